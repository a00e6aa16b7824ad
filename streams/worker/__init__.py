"""The decision worker: one shared core (decode, session folding, decide, housekeeping)
behind two thin transports, a confluent-kafka loop (default) and a Faust app."""
