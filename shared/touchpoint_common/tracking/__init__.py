"""Tracked consumption: a batch's effects and its next offsets in one database transaction.

`consumer.TrackedConsumer` is the one exactly-once consumer loop; a service plugs a
`BatchHandler` into it. `offsets` is where positions live (compare-and-set), `seek` finds the
start of a window in the log, `dead_letter` is the one path for records that cannot be used.
"""
