"""An operator's dashboard for a running scheduler: an ASGI application (extra ``web``).

```python
from turnkeeper_trio.web import Dashboard

app = Dashboard(scheduler, token=os.environ["DASHBOARD_TOKEN"])   # serve with hypercorn -k trio
```

See "Dashboard" in the documentation.
"""

from __future__ import annotations

from ._app import Dashboard as Dashboard
from ._probes import Probes as Probes

__all__ = ["Dashboard", "Probes"]
