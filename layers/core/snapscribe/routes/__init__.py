"""One Router per API. A route file shows each route whole: method, path, the middleware that guards it
(with the API's error table), the request model, and the operation it calls with its services. A
function's handler (functions/<name>/app.py) includes the routers it serves."""
