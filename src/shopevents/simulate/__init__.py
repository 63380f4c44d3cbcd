"""`shopevents demo`: realistic simulated traffic, sent through the real ingest endpoint.

Visitors browse (page visits, product views, searches), fill carts, register or log in, buy
through several sources and payment methods, leave carts behind and come back for them.
Everything goes over HTTP to a running server, exactly as the client script would send it
(`POST /integration-type/system/scrippet-notification/{storeId}`, `text/plain`), and, with
`--api-key`, marketplace and point-of-sale orders go through `POST /api/purchases/`.

What is simulated and what is not (so the figures are honest):
- Events are received now; only purchases carry past dates (`purchaseDate`, spread evenly
  over the last `--days` days, with exact decimal amounts), so revenue charts show history
  while the events chart shows today. Purchases of carts recovered during the run are dated
  now.
- Abandonment needs time to pass: the demo sets a short abandonment delay on the store (20 s
  by default), waits for it, sends the visitors who come back to buy (recovered carts), and
  then puts the store's delay back. It needs the server's worker (on by default in `serve`).
- A few requests carry mistakes real integrations make (numbers as text, an unknown
  source_type, a purchase without its total, an unknown event type), so the integration
  debugger and the quarantine have something to show.
"""

from shopevents.simulate.runner import run_demo
from shopevents.simulate.traffic import Simulator

__all__ = ["Simulator", "run_demo"]
