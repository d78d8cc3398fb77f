"""``billhook``: the command line that manages endpoints and starts, queries and follows deliveries.

One module per command group (``endpoint``, ``message``, ``attempt``, ...); ``cli`` assembles them.
Nothing imports this package except the console script and its tests.
"""
