"""billhook's REST API (``billhook serve``): every operation of ``BillhookClient`` over HTTP.

``api.app.create_app`` builds the FastAPI application; ``api.server`` runs it with uvicorn.
Routes are grouped like the client: ``api.delivery`` (endpoints, event types, messages,
attempts), ``api.catalog`` (customers, metrics, plans, alerts), ``api.billing``
(subscriptions, usage, invoices) and ``api.stripe`` (Stripe's payment events).
"""
