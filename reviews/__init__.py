"""The review domain: what a person may do with a REVIEW decision, pure of any service.

Queue ordering (``queue``), who may do what (``roles``), action checks against the
policy and the adverse-action reason catalogue with the four-eyes rule (``actions``,
``catalogue``), the events an action becomes (``events``), masking and sealing of
personal data (``privacy``), case claims on Redis (``claims``) and the drawing of
linked applications (``graph``). The web console in ``streams/console`` composes them.
"""
