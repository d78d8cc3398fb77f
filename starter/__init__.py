"""``billhook``: the command line, a thin layer over ``BillhookClient`` (``client``).

One module per command group (``endpoint``, ``message``, ``customer``, ...), each parsing its
arguments, calling one client method and printing a table; ``cli`` assembles them and reads
the settings once. Nothing imports this package except the console script and its tests.
"""
