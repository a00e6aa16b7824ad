"""The servicing vocabulary shared by the simulator, the features, the policies and the
topics: collection treatments and account actions (the Avro enums use the same names)."""

from __future__ import annotations

#: collection treatments, cheapest first; index 0 = no treatment
TREATMENTS = ("NONE", "REMINDER", "CALL", "PAYMENT_PLAN", "AGENCY")
#: account actions the servicing policy may take on a statement
ACCOUNT_ACTIONS = ("CREDIT_LINE_INCREASE", "CREDIT_LINE_DECREASE", "EARLY_WARNING",
                   "HARDSHIP_CONTACT", "COLLECTION_TREATMENT")
