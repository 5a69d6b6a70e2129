"""The API gateway: serves the network's finalized models over HTTP, paid per request in signed vouchers.

`app.create_app(gateway)` builds the FastAPI application around a `service.Gateway`, which holds the model
catalogue (`catalog`), the loaded weights (`serving`), request accounting (`accounting`) and settlement.
`client.GatewayClient` is the paying caller's side.
"""
