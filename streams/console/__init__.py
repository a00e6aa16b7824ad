"""The review console: a web application where underwriters and fraud analysts work the
REVIEW decisions (``loanrisk console serve``). Built by ``app.create_app`` from settings and
clients; the review rules themselves live in the ``reviews`` library."""
