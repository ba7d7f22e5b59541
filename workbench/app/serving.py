"""Serving the app to a class: who may connect, who each visitor is, who may launch runs.

`workbench app` listens on 127.0.0.1, where only this machine's user reaches it. Anyone who
reaches a port on another address could otherwise edit every reader's notes and launch runs,
so listening there needs sign-in: Streamlit's built-in OpenID Connect login (`st.login`, the
university's single sign-on), configured by a TOML file holding Streamlit's `[auth]` section
(`--auth FILE` or `$WORKBENCH_AUTH_FILE`). The file lives outside the workspace: the workspace
is shared (notes, catalog, reproductions) and its client secret must not be.

With sign-in on, the signed-in identity is the reader (a student edits only their own notes)
and only the readers in `$WORKBENCH_RUNNERS` (comma-separated) may launch, cancel or resume
runs; by default that is the workspace owner, the reader who starts the app
(`$WORKBENCH_READER`, else the OS user name as a slug).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import ipaddress
import os
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from workbench.errors import InvalidId, WorkbenchError
from workbench.notes import default_reader
from workbench.workspace import validate_slug

AUTH_ENV = "WORKBENCH_AUTH_FILE"     # the app sees sign-in as on when the CLI sets this
RUNNERS_ENV = "WORKBENCH_RUNNERS"
AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret",
             "server_metadata_url")
MIN_COOKIE_SECRET = 32  # characters; it signs the login cookie, so a guessable one is a login
HELP = "see README.md, 'Serving a class'"


class AuthConfigError(WorkbenchError):
    """Sign-in is needed but missing, or its configuration file is unusable."""


@dataclasses.dataclass(frozen=True)
class Serving:
    """How `workbench app` starts Streamlit: extra arguments and environment for the app."""

    auth_file: Path | None
    runners: frozenset[str]

    def streamlit_args(self) -> list[str]:
        # only this file: a .streamlit/secrets.toml in the (untrusted) workspace is not read
        return ["--secrets.files", str(self.auth_file)] if self.auth_file else []

    def env(self) -> dict[str, str]:
        return {AUTH_ENV: str(self.auth_file)} if self.auth_file else {}


def is_loopback(address: str) -> bool:
    """Whether only this machine can reach `address` ('' means every interface)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name other than localhost: assume it is reachable
        return False


def serving(address: str, auth_file: str | None, workspace_root: Path) -> Serving:
    """Check that the app may listen on `address`; raise one line if not."""
    if not auth_file:
        if not is_loopback(address):
            raise AuthConfigError(
                f"refusing to listen on {address or 'every interface'} without sign-in: anyone "
                "who reaches the port could edit every reader's notes and launch runs; pass "
                f"--auth FILE ({HELP}) or leave --address at 127.0.0.1")
        return Serving(None, frozenset())
    return Serving(check_auth_file(Path(auth_file), workspace_root), runners())


def check_auth_file(path: Path, workspace_root: Path) -> Path:
    """The resolved auth file if it holds a usable `[auth]` section; else one line saying why."""
    path = path.expanduser().resolve()
    if path.is_relative_to(workspace_root.resolve()):
        raise AuthConfigError(f"auth file {path} is inside the workspace, which is shared with "
                              "students; keep its client secret elsewhere (e.g. ~/.config/)")
    try:
        section = tomllib.loads(path.read_text(encoding="utf-8")).get("auth")
    except OSError as exc:
        raise AuthConfigError(f"auth file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AuthConfigError(f"auth file {path} is not valid TOML: {exc}") from None
    if not isinstance(section, dict):
        raise AuthConfigError(f"auth file {path} has no [auth] section; {HELP}")
    missing = [k for k in AUTH_KEYS if not isinstance(section.get(k), str) or not section[k]]
    if missing:
        raise AuthConfigError(f"auth file {path}: [auth] lacks {', '.join(missing)}; {HELP}")
    if not section["redirect_uri"].endswith("/oauth2callback"):
        raise AuthConfigError(f"auth file {path}: redirect_uri must end with /oauth2callback "
                              "(Streamlit's sign-in callback)")
    if len(section["cookie_secret"]) < MIN_COOKIE_SECRET:
        raise AuthConfigError(
            f"auth file {path}: cookie_secret has {len(section['cookie_secret'])} characters; "
            f"use at least {MIN_COOKIE_SECRET} random ones "
            "(python -c 'import secrets; print(secrets.token_hex(32))')")
    if importlib.util.find_spec("authlib") is None:
        raise AuthConfigError("sign-in needs the Authlib package: pip install Authlib")
    return path


def runners() -> frozenset[str]:
    """The readers who may launch, cancel and resume runs when sign-in is on."""
    names = [n.strip() for n in os.environ.get(RUNNERS_ENV, "").split(",") if n.strip()]
    if not names:
        return frozenset({default_reader()})  # the workspace owner
    return frozenset(validate_slug(n, f"${RUNNERS_ENV} entry") for n in names)


def reader_from_identity(user: Mapping) -> str:
    """The reader slug of a signed-in user: the email's local part ('Jane.Doe@uni.edu' ->
    'jane-doe', as an OS user name becomes a reader), else the OIDC subject.

    The local part is only unique within one email domain: serve with a sign-in provider whose
    users share one (a university's single sign-on), not one anyone can join.
    """
    email = user.get("email")
    if isinstance(email, str) and "@" in email:
        if user.get("email_verified") is False:  # anyone can claim an unverified address
            raise InvalidId(f"the sign-in provider has not verified {email[:80]!r}; verify "
                            "it and sign in again")
        raw = email.rsplit("@", 1)[0]
    else:
        raw = user.get("sub")
    if not isinstance(raw, str):
        raise InvalidId("the sign-in provider sent neither an email nor a subject; ask whoever "
                        "runs the workbench")
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if not slug:
        raise InvalidId(f"sign-in identity {raw[:80]!r} gives no reader name (letters or "
                        "digits); ask whoever runs the workbench")
    return validate_slug(slug, "reader from your sign-in")
