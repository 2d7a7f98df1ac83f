"""A real Synapse homeserver on 127.0.0.1 for the Matrix tests, and members who post on it.

`Synapse.start` writes a minimal homeserver.yaml (SQLite, no federation, one plain-HTTP client
listener on a free loopback port, cheap bcrypt, generous limits for logins, registrations, rooms
and joins, and `rc_message` of 1/s with a burst of 5 so that a real 429 can be provoked), writes the
signing key itself, starts `python -m synapse.app.homeserver` and polls `/_matrix/client/versions`
until it answers. Users are registered through the shared-secret admin API; `exempt` lifts one
user's message limit (the admin API's `override_ratelimit`), `throttle` puts it back.

`Member` is a registered user speaking the client-server API directly (aiohttp): it creates rooms,
posts, replies, threads, reacts, redacts and reads a room's timeline, as a person's client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.matrix.app import MatrixAdapter
from bot.config import Config
from bot.runtime.app import Service, build_service
from bot.storage.audit import AuditEntry
from bot.storage.schema import OutboxRow, OutboxState
from tests.waiting import eventually

SECRET = "longform-test-shared-secret"
SERVER = "localhost"
_txn = itertools.count()


def synapse_missing() -> str | None:
    """Why Synapse cannot run here (None: it can)."""
    try:
        import synapse  # noqa: F401
    except ImportError:
        return ("Synapse is not installed; the Matrix tests need a real homeserver: "
                "pip install 'longform[matrix-test]' (make test does)")  # fmt: skip
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(root: Path, port: int) -> str:
    lines = {
        "server_name": SERVER, "pid_file": root / "homeserver.pid",
        "signing_key_path": root / "signing.key", "media_store_path": root / "media",
        "report_stats": "false", "registration_shared_secret": SECRET,
        "macaroon_secret_key": "longform-test-macaroon", "form_secret": "longform-test-form",
        "enable_registration": "false", "trusted_key_servers": "[]",
        "suppress_key_server_warning": "true", "federation_domain_whitelist": "[]",
        "url_preview_enabled": "false", "enable_metrics": "false", "bcrypt_rounds": 4,
    }  # fmt: skip
    text = "\n".join(f"{key}: {value}" for key, value in lines.items())
    plenty = "{per_second: 1000, burst_count: 1000}"
    return (
        text
        + f"""
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {root / "homeserver.db"}
presence:
  enabled: false
rc_login:
  address: {plenty}
  account: {plenty}
  failed_attempts: {plenty}
rc_registration: {plenty}
rc_room_creation: {plenty}
rc_joins:
  local: {plenty}
  remote: {plenty}
rc_invites:
  per_room: {plenty}
  per_user: {plenty}
rc_message:
  per_second: 1
  burst_count: 5
"""
    )


@dataclass
class Synapse:
    """A running homeserver; ``url`` is its client-server base URL."""

    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    admin_token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls) -> Synapse:
        """Start a fresh homeserver in a temporary directory; wait until it answers."""
        from signedjson.key import generate_signing_key, write_signing_keys

        root = Path(tempfile.mkdtemp(prefix="longform-synapse-"))
        port = _free_port()
        (root / "homeserver.yaml").write_text(_config(root, port))
        with (root / "signing.key").open("w") as out:
            write_signing_keys(out, [generate_signing_key("a_test")])
        with (root / "synapse.out").open("wb") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(root / "homeserver.yaml")],
                stdout=log, stderr=subprocess.STDOUT, cwd=root,
            )  # fmt: skip
        return cls(root, port, process)

    def stop(self) -> None:
        """SIGTERM, wait, and remove the temporary directory."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def output(self) -> str:
        return (self.root / "synapse.out").read_text(errors="replace")[-4000:]

    async def ready(self, within: float = 60.0) -> None:
        """Poll ``/versions`` until it answers; fail with Synapse's output if it never does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with aiohttp.ClientSession() as http:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise AssertionError(f"Synapse exited at start-up:\n{self.output()}")
                try:
                    async with http.get(f"{self.url}/_matrix/client/versions") as answer:
                        if answer.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if loop.time() >= deadline:
                    raise AssertionError(
                        f"Synapse did not answer in {within:.0f} s:\n{self.output()}"
                    )
                await asyncio.sleep(0.05)

    async def register(self, name: str, admin: bool = False) -> Member:
        """A new user ``@name:localhost`` (registered through the shared-secret admin API)."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        password = f"pw-{name}"
        async with aiohttp.ClientSession() as http:
            async with http.get(endpoint) as answer:
                nonce = (await answer.json())["nonce"]
            mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha1)
            mac.update(b"\x00".join([nonce.encode(), name.encode(), password.encode(),
                                     b"admin" if admin else b"notadmin"]))  # fmt: skip
            body = {"nonce": nonce, "username": name, "password": password, "admin": admin,
                    "mac": mac.hexdigest()}  # fmt: skip
            async with http.post(endpoint, json=body) as answer:
                made = await answer.json()
                assert answer.status == 200, made
        member = Member(self, made["user_id"], made["access_token"])
        if admin and not self.admin_token:
            self.admin_token = member.token
        return member

    async def exempt(self, user_id: str, per_second: int = 0, burst: int = 0) -> None:
        """Lift ``user_id``'s message rate limit (0, 0), or set a tighter one; needs an admin."""
        path = f"/_synapse/admin/v1/users/{quote(user_id)}/override_ratelimit"
        method, body = "POST", {"messages_per_second": per_second, "burst_count": burst}
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.url + path, json=body, headers=headers) as answer,
        ):
            assert answer.status == 200, await answer.text()


@dataclass
class Member:
    """A registered user, speaking the client-server API as their client would."""

    server: Synapse
    user_id: str
    token: str
    sent: list[str] = field(default_factory=list)

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One client-server call; AssertionError with the server's answer if it fails."""
        url, headers = (
            f"{self.server.url}/_matrix/client{path}",
            {"Authorization": f"Bearer {self.token}"},
        )
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, url, json=body, headers=headers) as answer,
        ):
            data: dict[str, Any] = await answer.json()
            assert answer.status == 200, (method, path, answer.status, data)
            return data

    async def create_room(self, name: str, invite: tuple[str, ...] = (), **more: Any) -> str:
        body = {"name": name, "preset": "public_chat", "invite": list(invite), **more}
        return str((await self.call("POST", "/v3/createRoom", body))["room_id"])

    async def join(self, room: str) -> None:
        await self.call("POST", f"/v3/join/{quote(room)}", {})

    async def send(self, room: str, content: dict[str, Any], kind: str = "m.room.message") -> str:
        path = f"/v3/rooms/{quote(room)}/send/{kind}/t{next(_txn)}"
        event = str((await self.call("PUT", path, content))["event_id"])
        self.sent.append(event)
        return event

    async def say(self, room: str, text: str, reply_to: str | None = None,
                  thread: str | None = None, mentions: tuple[str, ...] = ()) -> str:  # fmt: skip
        """Post ``text``, as a reply, in a thread, or both (a reply inside a thread)."""
        content: dict[str, Any] = {"msgtype": "m.text", "body": text,
                                   "m.mentions": {"user_ids": list(mentions)}}  # fmt: skip
        if thread is not None:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread,
                                       "is_falling_back": reply_to is None,
                                       "m.in_reply_to": {"event_id": reply_to or thread}}  # fmt: skip
        elif reply_to is not None:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return await self.send(room, content)

    async def edit(self, room: str, event: str, text: str) -> str:
        return await self.send(room, {"msgtype": "m.text", "body": f"* {text}",
                                      "m.new_content": {"msgtype": "m.text", "body": text},
                                      "m.relates_to": {"rel_type": "m.replace", "event_id": event}})  # fmt: skip

    async def react(self, room: str, event: str, key: str) -> str:
        relation = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event, "key": key}}
        return await self.send(room, relation, kind="m.reaction")

    async def redact(self, room: str, event: str) -> None:
        await self.call("PUT", f"/v3/rooms/{quote(room)}/redact/{quote(event)}/r{next(_txn)}", {})

    async def set_power(self, room: str, user: str, level: int) -> None:
        path = f"/v3/rooms/{quote(room)}/state/m.room.power_levels"
        levels = await self.call("GET", path)
        levels.setdefault("users", {})[user] = level
        await self.call("PUT", path, levels)

    async def state(self, room: str, kind: str, key: str = "") -> dict[str, Any]:
        return await self.call("GET", f"/v3/rooms/{quote(room)}/state/{kind}/{quote(key)}")

    async def timeline(self, room: str, limit: int = 200) -> list[dict[str, Any]]:
        """The room's events, oldest first."""
        path = f"/v3/rooms/{quote(room)}/messages?dir=b&limit={limit}"
        return list(reversed((await self.call("GET", path))["chunk"]))

    async def invites(self) -> list[str]:
        """Rooms this member is invited to (one /sync)."""
        data = await self.call("GET", "/v3/sync?timeout=0")
        return list(data.get("rooms", {}).get("invite", {}))


def texts(events: list[dict[str, Any]], sender: str | None = None) -> list[str]:
    """The bodies of the message events (of one sender)."""
    return [e["content"].get("body", "") for e in events if e["type"] == "m.room.message"
            and (sender is None or e["sender"] == sender)]  # fmt: skip


# -- the service with the Matrix adapter, on the real homeserver ---------------------------------

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo" / "01_pile_on_clinician.jsonl"
NAMES = ("dr_amara", "nurse_priya", "dr_okafor", "dr_hallorann", "ems_jordan", "dr_vasquez",
         "dr_sato", "pharm_tobias", "hospitalist_greer", "dr_b_nakamura", "rn_delacroix",
         "dr_fenwick")  # fmt: skip
_rooms = itertools.count()


@dataclass
class Cast:
    """The session's users: an admin, the bot, a moderator and the demo's members."""

    admin: Member
    bot: Member
    mod: Member
    members: dict[str, Member]


@dataclass
class World:
    """One test's community: a space, a watched room, a moderators' room."""

    cast: Cast
    space: str
    room: str
    mods: str

    def community(self) -> dict[str, Any]:
        return {"platform": "matrix", "id": self.space, "channels": [self.room],
                "moderators": self.mods, "longform_space": self.space}  # fmt: skip


async def register_cast(server: Synapse) -> Cast:
    """Register the session's users; everyone but the admin is exempt from message limits."""
    admin = await server.register("admin", admin=True)
    bot, mod = await server.register("longform"), await server.register("mo")
    members = {name: await server.register(name) for name in NAMES}
    for user in (bot, mod, *members.values()):
        await server.exempt(user.user_id)
    return Cast(admin, bot, mod, members)


async def make_world(cast: Cast) -> World:
    """A fresh space and rooms made by the moderator; the bot at level 100, members joined."""
    number = next(_rooms)
    for user in (cast.mod, *cast.members.values()):
        user.sent.clear()  # a test waits only for what was sent in its own world
    levels = {"users": {cast.bot.user_id: 100}}  # the creator (mod) is above every level
    everyone = (cast.bot.user_id, *(m.user_id for m in cast.members.values()))
    made = {"power_level_content_override": levels}
    space = await cast.mod.create_room(f"Clinicians {number}", invite=(cast.bot.user_id,),
                                       creation_content={"type": "m.space"}, **made)  # fmt: skip
    room = await cast.mod.create_room(f"General {number}", invite=everyone, **made)
    mods = await cast.mod.create_room(f"Moderators {number}", invite=(cast.bot.user_id,), **made)
    for member in cast.members.values():
        await member.join(room)
    return World(cast, space, room, mods)


def config(tmp_path: Path, server: Synapse, world: World, **sections: Any) -> Config:
    """A live config with the strict policy, the homeserver, and the world's community."""
    raw: dict[str, Any] = {
        "policy": "strict", "mode": "live",
        "storage": {"url": f"sqlite:///{tmp_path / 'longform.db'}"},
        "scheduler": {"tick_seconds": 3600, "snapshot_seconds": 3600},
        "outbox": {"retry_seconds": 0.05},
        "scoring": {"sentence_tier": "off"},  # the adapter is under test, not the judgement
        "matrix": {"enabled": True, "homeserver": server.url,
                   "user_id": world.cast.bot.user_id, "sync_timeout_ms": 2000},
        "communities": [world.community()],
    }  # fmt: skip
    return Config.model_validate(raw | sections)


@dataclass
class Served:
    """A running service with the Matrix adapter, and the core events it handed over."""

    service: Service
    adapter: MatrixAdapter
    events: list[Any] = field(default_factory=list)

    def audit(self, kind: str | None = None) -> list[AuditEntry]:
        entries = self.service.runtime.store.audit.entries()
        return [e for e in entries if kind is None or e.kind == kind]

    def outbox(self) -> list[OutboxRow]:
        with Session(self.service.runtime.store.engine) as session:
            return list(session.scalars(select(OutboxRow)))

    async def settle(self, *members: Member, within: float = 60.0) -> None:
        """Wait until the bot saw every event ``members`` sent, the runtime judged them, and
        the outbox has nothing left to do (retries included)."""
        adapter = self.adapter
        sent = {e for m in members for e in m.sent}
        await eventually(lambda: sent <= adapter.seen.keys(), within=within,
                         what=f"the bot seeing {len(sent - adapter.seen.keys())} event(s)")  # fmt: skip
        await self.service.runtime.settle()
        open_states = (OutboxState.PENDING, OutboxState.IN_FLIGHT)
        await eventually(lambda: not [r for r in self.outbox() if r.state in open_states],
                         within=within, what="the outbox finishing")  # fmt: skip


@contextlib.asynccontextmanager
async def serving(cfg: Config, token: str) -> AsyncIterator[Served]:
    """The service running with the Matrix adapter until the block ends."""
    adapter = MatrixAdapter(cfg, token)
    service = build_service(cfg, environ={"LONGFORM_MATRIX_TOKEN": token},
                            factories={"matrix": lambda *_: adapter})  # fmt: skip
    served = Served(service, adapter)
    runtime = service.runtime
    judge = runtime.on_event

    async def recording(event: Any) -> None:
        served.events.append(event)
        await judge(event)

    runtime.on_event = recording  # type: ignore[method-assign]
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    try:
        await eventually(lambda: running.done() or adapter.started, within=60,
                         what="the Matrix adapter starting")  # fmt: skip
        if running.done():
            await running  # raises the start-up error
        yield served
    finally:
        stop.set()
        await asyncio.wait([running])
    await running


async def pile_on(world: World) -> tuple[str, dict[str, str]]:
    """The demo pile-on as a thread in the world's room: (thread root, demo id -> event id)."""
    root = await world.cast.mod.say(
        world.room, "Antibiotics for viral coughs: what do we tell parents?"
    )
    ids: dict[str, str] = {}
    for line in DEMO.read_text().splitlines():
        record = json.loads(line)
        if record["type"] != "message":
            continue
        member = world.cast.members[record["author"]]
        ids[record["id"]] = await member.say(world.room, record["text"],
                                             reply_to=ids.get(record.get("reply_to", "")),
                                             thread=root)  # fmt: skip
    return root, ids
