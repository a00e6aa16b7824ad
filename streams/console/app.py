"""The review console's web application, built from its parts by ``create_app``.

Server-rendered pages (Jinja2, autoescaped: every application field is untrusted), a
little htmx (vendored under ``static/``) for the refreshing queue and dashboards. Every
page needs a login; every POST needs the session's CSRF token; what a user sees of a
case, reveals and does is written to the audit topic before the page is sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.templating import Jinja2Templates

from reviews.actions import Action, ActionRefused
from reviews.actions import Request as ActionRequest
from reviews.queue import Filters, Order, headline, ordered
from reviews.roles import Permission, allowed
from streams.console.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, Accounts, Session, same_token
from streams.console.casework import Casework
from streams.console.outbox import Outbox, PublishError
from streams.console.pages import case_view, rules_release
from streams.console.store import ConsoleStore

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Console:
    """Everything a request may need, built once by the composition root."""

    accounts: Accounts
    store: ConsoleStore
    casework: Casework
    outbox: Outbox
    sla_s: float
    secure_cookies: bool
    dashboards: Any = None  # streams.console.dashboards.Dashboards, when enabled


class Denied(Exception):
    def __init__(self, status: int, what: str) -> None:
        super().__init__(what)
        self.status, self.what = status, what


def create_app(console: Console) -> FastAPI:
    app = FastAPI(title="loanrisk review console", docs_url=None, redoc_url=None,
                  openapi_url=None)
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["age"] = _age
    templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.console = console

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    @app.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        if exc.status == 401:
            if request.method == "GET":
                return RedirectResponse("/login", status_code=303)
            return HTMLResponse("login needed", status_code=401)
        return page(request, "message.html", {"title": "Not allowed", "text": exc.what},
                    status=exc.status)

    def page(request: Request, name: str, ctx: dict[str, Any], status: int = 200,
             session: Session | None = None) -> Response:
        s = session or getattr(request.state, "session", None)
        return templates.TemplateResponse(request, name, {"session": s, **ctx},
                                          status_code=status)

    def user(request: Request, need: Permission | None = None) -> Session:
        s = console.accounts.session(request.cookies.get(SESSION_COOKIE))
        if s is None:
            raise Denied(401, "login needed")
        request.state.session = s
        if need is not None and not allowed(s.role, need):
            audit(request, s, "DENIED", None, f"{request.method} {request.url.path}: {need}")
            raise Denied(403, f"your role ({s.role}) cannot do this ({need})")
        return s

    def audit(request: Request, s: Session, kind: str, application_id: str | None,
              detail: str = "") -> None:
        ip = request.client.host if request.client else ""
        console.outbox.audit(s.user, s.role, kind, application_id, detail, ip)

    async def form(request: Request, s: Session) -> dict[str, Any]:
        data = await request.form()
        token = data.get("csrf") or request.headers.get("x-csrf-token")
        if not same_token(s.csrf, str(token) if token else None):
            audit(request, s, "DENIED", None, f"POST {request.url.path}: bad CSRF token")
            raise Denied(403, "this form is stale or was not sent by the console; reload "
                              "the page and try again")
        return {k: data.getlist(k) if k in ("reason_codes", "identifiers") else data.get(k)
                for k in data}

    # --- login ------------------------------------------------------------------------
    @app.get("/login")
    async def login_page(request: Request) -> Response:
        import secrets

        token = secrets.token_urlsafe(32)
        resp = page(request, "login.html", {"csrf": token, "error": None})
        _cookie(resp, LOGIN_CSRF_COOKIE, token, console.secure_cookies, 600)
        return resp

    @app.post("/login")
    async def login(request: Request) -> Response:
        data = await request.form()
        if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE, ""), str(data.get("csrf"))):
            return page(request, "message.html", {"title": "Login refused", "text":
                        "the login form is stale; reload it"}, status=403)
        name, password = str(data.get("user", "")), str(data.get("password", ""))
        role = console.accounts.verify(name, password)
        ip = request.client.host if request.client else ""
        if role is None:
            console.outbox.audit(name[:64] or "-", "", "LOGIN_FAILED", None, "", ip)
            return page(request, "login.html", {"csrf": data.get("csrf"),
                                                "error": "wrong user name or password"},
                        status=401)
        s = console.accounts.open_session(name.strip().lower(), role)
        console.outbox.audit(s.user, s.role, "LOGIN", None, "", ip)
        home = "/queue" if allowed(role, Permission.VIEW_CASES) else "/dashboards"
        resp = RedirectResponse(home, status_code=303)
        _cookie(resp, SESSION_COOKIE, s.token, console.secure_cookies,
                console.accounts.session_ttl_s)
        resp.delete_cookie(LOGIN_CSRF_COOKIE)
        return resp

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        s = user(request)
        await form(request, s)
        console.accounts.close_session(s.token)
        audit(request, s, "LOGOUT", None)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    # --- the queue --------------------------------------------------------------------
    def queue_ctx(request: Request) -> dict[str, Any]:
        q = request.query_params
        try:
            order = Order(q.get("order", Order.EXPECTED_LOSS.value))
        except ValueError:
            order = Order.EXPECTED_LOSS
        filters = Filters(q.get("product") or None, q.get("reason") or None,
                          q.get("assignee") or None)
        now = int(time.time() * 1000)
        items = console.store.open_cases()
        settled = console.casework.state.settled([i.application_id for i in items])
        items = [i for i, done in zip(items, settled, strict=True) if not done]
        holders = console.casework.state.holders([i.application_id for i in items])
        from dataclasses import replace

        items = [replace(i, claimed_by=h) for i, h in zip(items, holders, strict=True)]
        shown = ordered([i for i in items if filters.keeps(i)], order, now)
        return {"items": shown[:200], "head": headline(items, now, console.sla_s),
                "order": order.value, "filters": filters, "now": now, "sla_s": console.sla_s,
                "products": sorted({i.product for i in items}), "query": str(q)}

    @app.get("/")
    async def home(request: Request) -> Response:
        user(request)
        return RedirectResponse("/queue", status_code=303)

    @app.get("/queue")
    async def queue(request: Request) -> Response:
        s = user(request, Permission.VIEW_CASES)
        audit(request, s, "VIEW_QUEUE", None, str(request.query_params))
        return page(request, "queue.html", queue_ctx(request))

    @app.get("/queue/rows")
    async def queue_rows(request: Request) -> Response:
        user(request, Permission.VIEW_CASES)
        return page(request, "queue_rows.html", queue_ctx(request))

    # --- one case ------------------------------------------------------------------------
    @app.get("/case/{application_id}")
    async def case(request: Request, application_id: str) -> Response:
        s = user(request, Permission.VIEW_CASES)
        data = console.store.case(application_id)
        if data is None:
            return page(request, "message.html", {"title": "No such case", "text":
                        f"no decision for {application_id} in ClickHouse"}, status=404)
        audit(request, s, "VIEW_CASE", application_id)
        return page(request, "case.html", case_view(console, data, s, revealed=None,
                                                    message=request.query_params.get("m")))

    @app.post("/case/{application_id}/reveal")
    async def reveal(request: Request, application_id: str) -> Response:
        s = user(request, Permission.REVEAL)
        await form(request, s)
        data = console.store.case(application_id)
        if data is None or data.application is None:
            return page(request, "message.html", {"title": "Nothing to reveal", "text":
                        "the application's personal data is not in the store"}, status=404)
        audit(request, s, "REVEAL", application_id, "personal fields")  # before the data
        clear = console.casework.sealer.unseal(data.application["sealed"])
        return page(request, "case.html", case_view(console, data, s, revealed=clear))

    @app.post("/case/{application_id}/claim")
    async def claim(request: Request, application_id: str) -> Response:
        s = user(request, Permission.WORK_CASES)
        data = await form(request, s)
        state = console.casework.state
        if data.get("release"):
            state.release(application_id, s.user)
            msg = "released"
        else:
            won, holder = state.claim(application_id, s.user)
            msg = "claimed: the case is yours" if won else f"{holder} is working this case"
            audit(request, s, "CLAIM", application_id, msg)
        return RedirectResponse(f"/case/{application_id}?m={msg}", status_code=303)

    @app.post("/case/{application_id}/action")
    async def act(request: Request, application_id: str) -> Response:
        s = user(request, Permission.WORK_CASES)
        data = await form(request, s)
        case_data = console.store.case(application_id)
        if case_data is None:
            return page(request, "message.html", {"title": "No such case", "text":
                        application_id}, status=404)
        try:
            req = _request(data, s)
            msg = console.casework.act(case_data, req)
            audit(request, s, "ACTION", application_id, f"{req.action.value}: {msg}")
            status = 303
        except (ActionRefused, PublishError) as exc:
            audit(request, s, "DENIED", application_id, f"action refused: {exc}")
            msg, status = f"refused: {exc}", 409
        if status == 303:
            return RedirectResponse(f"/case/{application_id}?m={msg}", status_code=303)
        return page(request, "case.html", case_view(console, case_data, s, revealed=None,
                                                    message=msg), status=status)

    # --- analysts -----------------------------------------------------------------------
    @app.get("/rules")
    async def rules_page(request: Request) -> Response:
        user(request, Permission.RELEASE_RULES)
        return page(request, "rules.html", {"message": None, "text": ""})

    @app.post("/rules/release")
    async def rules_post(request: Request) -> Response:
        s = user(request, Permission.RELEASE_RULES)
        data = await form(request, s)
        message, ok = rules_release(console.outbox.conn, str(data.get("rules_yaml", "")), s.user)
        if ok:
            audit(request, s, "ACTION", None, f"rules release: {message}")
        return page(request, "rules.html", {"message": message, "text": data.get("rules_yaml")},
                    status=200 if ok else 422)

    @app.get("/dashboards")
    async def dashboards(request: Request) -> Response:
        user(request, Permission.DASHBOARDS)
        names = console.dashboards.names() if console.dashboards else []
        return page(request, "dashboards.html", {"names": names})

    @app.get("/dashboards/{name}.svg")
    async def dashboard_svg(request: Request, name: str) -> Response:
        user(request, Permission.DASHBOARDS)
        if console.dashboards is None or name not in console.dashboards.names():
            return Response("no such plot", status_code=404)
        return Response(console.dashboards.svg(name), media_type="image/svg+xml")

    # --- admins: accounts -----------------------------------------------------------------
    def users_page(request: Request, s: Session, message: str | None, status: int = 200
                   ) -> Response:
        from reviews.roles import Role

        return page(request, "users.html", {"users": console.accounts.list(), "message":
                                            message, "roles": [r.value for r in Role]},
                    status=status)

    @app.get("/users")
    async def users(request: Request) -> Response:
        s = user(request, Permission.MANAGE_USERS)
        return users_page(request, s, None)

    @app.post("/users")
    async def users_post(request: Request) -> Response:
        from streams.console.auth import AccountError

        s = user(request, Permission.MANAGE_USERS)
        data = await form(request, s)
        name, op = str(data.get("user", "")), str(data.get("op", ""))
        try:
            if op == "remove":
                if name == s.user:
                    raise AccountError("you cannot remove your own account")
                if not console.accounts.remove(name):
                    raise AccountError(f"no user {name}")
                done = f"removed {name}"
            elif op in ("add", "replace"):
                role = str(data.get("role", ""))
                made = console.accounts.add(name, str(data.get("password", "")), role,
                                            replace=op == "replace")
                done = f"{'updated' if op == 'replace' else 'added'} {made} ({role})"
            else:
                raise AccountError(f"unknown operation {op!r}")
        except AccountError as exc:
            audit(request, s, "DENIED", None, f"user admin refused: {exc}")
            return users_page(request, s, f"refused: {exc}", status=422)
        audit(request, s, "USER_ADMIN", None, done)
        return users_page(request, s, done)

    return app


def _request(data: dict[str, Any], s: Session) -> ActionRequest:
    try:
        action = Action(str(data.get("action", "")))
    except ValueError as exc:
        raise ActionRefused(f"unknown action {data.get('action')!r}") from exc
    try:
        amount = float(data["amount"]) if data.get("amount") else None
        term = int(data["term_months"]) if data.get("term_months") not in (None, "") else None
    except ValueError as exc:
        raise ActionRefused("amount and term must be numbers") from exc
    return ActionRequest(action, s.user, s.role, tuple(data.get("reason_codes") or ()), amount,
                         term, tuple(data.get("identifiers") or ()),
                         str(data.get("note") or "")[:2000])


def _cookie(resp: Response, name: str, value: str, secure: bool, max_age: int) -> None:
    resp.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                    secure=secure, path="/")


def _age(seconds: float) -> str:
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"
