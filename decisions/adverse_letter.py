"""The adverse-action letter of a decline: its reasons, and what would have been approved.

Every sentence is a fact of the decision of record or of its counterfactuals
(`decisions.counterfactual`): an amount is named only when that amount was decided and
approved in full, "or less" only when every step below it was too, and when no change in
the amount, term or product would have been approved the letter says so. Without a
counterfactual (none could be computed) it says nothing about other amounts at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from decisions.counterfactual import Counterfactual, Option

PRODUCT_NOUN = {"CREDIT_CARD": "credit card", "PERSONAL_LOAN": "personal loan",
                "BNPL": "buy-now-pay-later purchase"}
#: an option on the product applied for / on another product, given the amount's text
SAME_PRODUCT = {"CREDIT_CARD": "A credit limit of {}"}
OTHER_PRODUCT = {"CREDIT_CARD": "A credit card with a limit of {}",
                 "PERSONAL_LOAN": "A personal loan of {}",
                 "BNPL": "A buy-now-pay-later purchase of {}"}


def money(amount: float, currency: str = "£") -> str:
    return f"{currency}{amount:,.0f}" if amount == int(amount) else f"{currency}{amount:,.2f}"


def _over(term: int) -> str:
    return f" over {term} months" if term > 0 else ""


def _sentence(o: Option, asked: float, currency: str) -> str:
    if o.changed == ("term",):
        return f"The amount you asked for{_over(o.term_months)} would have been approved."
    amount = money(o.amount, currency)
    if o.all_below_approved and o.amount < asked:
        amount += " or less"
    table = OTHER_PRODUCT if "product" in o.changed else SAME_PRODUCT
    head = table.get(o.product, "An amount of {}").format(amount)
    return f"{head}{_over(o.term_months)} would have been approved."


def adverse_action_letter(product: str, asked: float, term: int, reasons: Sequence[str],
                          cf: Counterfactual | None, currency: str = "£",
                          alternatives: int = 2) -> str:
    """The letter's text: the application, the reasons given, then the smallest change that
    would have been approved (and up to ``alternatives`` others that would have approved a
    larger amount, largest first), or that none would."""
    lines = [f"Your application for a {PRODUCT_NOUN.get(product, product)} of "
             f"{money(asked, currency)}{_over(term)} was declined."]
    if reasons:
        lines += ["", "The main reasons were:", *(f"- {r}" for r in reasons)]
    if cf is not None:
        lines.append("")
        if not cf.options:
            lines.append("No change to the amount, the term or the product of your "
                         "application would have been approved under the criteria that "
                         "decided it.")
        else:
            first = cf.options[0]
            lines.append(_sentence(first, asked, currency))
            # other changes only where they would have approved more than the first one
            more = sorted((o for o in cf.options[1:] if o.amount > first.amount),
                          key=lambda o: -o.amount)
            lines += [_sentence(o, asked, currency) for o in more[:alternatives]]
    return "\n".join(lines)
