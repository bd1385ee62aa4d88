"""Helpers the integration tests share: throwaway users, tokens, throttling.

    from kgtest import new_user, drop_users
    email, auth = new_user(ctx, "up")     # auth = {"Authorization": "Bearer ..."}
    ...
    drop_users(ctx, email)                # also removes their batches and files
"""
import json
import uuid

PASSWORD = "integration pass 42"


def clear_throttle(ctx):
    """Forget failed logins (all tests log in from 127.0.0.1)."""
    for key in ctx.redis("--scan", "--pattern", "kg:login:*").split():
        ctx.redis("DEL", key)


def add_user(ctx, prefix="t", admin=False, password=PASSWORD):
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@test.local"
    args = ["adduser", email] + (["--admin"] if admin else [])
    rc, _, err = ctx.run_program("worker/kartograf-admin", args, stdin=password + "\n")
    assert rc == 0, f"adduser {email}: {err}"
    return email


def login(ctx, email, password=PASSWORD):
    """POST /api/auth/login through lighttpd; the JSON answer."""
    clear_throttle(ctx)
    r = ctx.request(ctx.servers["lighttpd"], "POST", "/api/auth/login",
                    {"email": email, "password": password})
    assert r.status == 200, r
    return r.json()


def new_user(ctx, prefix="t", admin=False, password=PASSWORD):
    """A new user, signed in: (email, Authorization header dict)."""
    email = add_user(ctx, prefix, admin, password)
    return email, {"Authorization": "Bearer " + login(ctx, email, password)["token"]}


def queued_tasks(ctx, q):
    """The tasks waiting in queue q, oldest first: a fair queue keeps a list per
    batch (kg:queue:<q>:<batch>, ring kg:ready:<q>), see lib/kg_queue.h."""
    keys = [f"kg:queue:{q}"] + [f"kg:queue:{q}:{b}" for b in
                                ctx.redis("LRANGE", f"kg:ready:{q}", "0", "-1").split()]
    tasks = []
    for key in keys:
        raw = ctx.redis("--raw", "LRANGE", key, "0", "-1")
        tasks += [json.loads(t) for t in reversed(raw.splitlines()) if t.strip()]
    return tasks


def drop_queue(ctx, q):
    """Forget everything waiting in queue q."""
    keys = [f"kg:queue:{q}", f"kg:queued:{q}", f"kg:ready:{q}", f"kg:readyset:{q}"]
    keys += [f"kg:queue:{q}:{b}" for b in ctx.redis("LRANGE", f"kg:ready:{q}", "0", "-1").split()]
    ctx.redis("DEL", *keys)


def drop_users(ctx, *emails):
    for email in emails:
        ctx.run_program("worker/kartograf-admin", ["deluser", email])
