"""Where links point and what a request really came over: the public base URL, allowed hosts
and trusted reverse proxies (issue 13).

Every link medflow sends (password reset, invitation, signed upload URL, report and summary
emails) starts with ``web.public_url``. Without it, a link made during a request uses the
request's ``Host`` only when that host is on ``web.allowed_hosts``; any other Host (which a
client chooses freely, RFC 9110 section 7.2) gets the listening address instead, so a forged
Host header cannot plant an attacker's domain in a reset email (OWASP Forgot Password Cheat
Sheet: "do not rely on the Host header"). ``X-Forwarded-Proto`` and ``X-Forwarded-For`` are
believed only from ``web.trusted_proxies`` (RFC 7239 section 8.3: forwarded headers are
trivially forged by clients).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request

from medflow.platform.config import WebSettings

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@lru_cache(maxsize=32)
def _networks(
    nets: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in nets)


def _in(address: str, nets: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in _networks(nets))


def from_trusted_proxy(request: Request, web: WebSettings) -> bool:
    """Whether the peer that sent ``request`` is one of ``web.trusted_proxies``."""
    peer = request.client.host if request.client else ""
    return bool(web.trusted_proxies) and _in(peer, tuple(web.trusted_proxies))


def request_scheme(request: Request, web: WebSettings) -> str:
    """``https`` or ``http``: what the client used, as a trusted proxy reports it
    (``X-Forwarded-Proto``, its first value: the client-facing hop), else the connection's."""
    if from_trusted_proxy(request, web):
        sent = request.headers.get("x-forwarded-proto", "").split(",", 1)[0].strip().lower()
        if sent in ("http", "https"):
            return sent
    return request.url.scheme


def client_address(request: Request, web: WebSettings) -> str:
    """The client's address: the peer, or behind trusted proxies the rightmost
    ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries to its left were
    written by the client and prove nothing)."""
    peer = request.client.host if request.client else "unknown"
    if not from_trusted_proxy(request, web):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, tuple(web.trusted_proxies)):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


def _allowed(host: str, allowed: list[str]) -> bool:
    bare = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    for entry in allowed:
        entry = entry.lower()
        if entry == host or (":" not in entry.strip("[]") and entry == bare):
            return True
        if entry.startswith("[") and entry.endswith("]") and entry == bare:
            return True
    return False


def link_base(request: Request, web: WebSettings) -> str:
    """The start of links made while answering ``request`` (no trailing slash)."""
    configured = web.configured_url
    if configured:
        return configured
    host = request.headers.get("host", "").strip().lower()
    if host and _allowed(host, web.allowed_hosts):
        return f"{request_scheme(request, web)}://{host}"
    return web.link_base


def rebase(url: str, web: WebSettings, base: str) -> str:
    """``url`` with the portal's own start (``web.link_base``, what the object store signs
    URLs under) replaced by ``base``; URLs of other servers (S3) are left as they are."""
    own = web.link_base + "/"
    return base + url[len(own) - 1 :] if url.startswith(own) else url


def is_https(request: Request, web: WebSettings) -> bool:
    """Whether the portal is reached over https: its public URL says so, or this request
    came over https (directly, or as a trusted proxy reports)."""
    configured = web.configured_url or ""
    return configured.startswith("https://") or request_scheme(request, web) == "https"


def _loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host in ("", "0.0.0.0", "::"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_warning(web: WebSettings) -> str | None:
    """What ``medflow serve`` prints at start when emailed links would point at a loopback
    address (nobody else can open them); None when they would not."""
    from urllib.parse import urlsplit

    base = web.link_base
    host = urlsplit(base).hostname or ""
    if not _loopback(host):
        return None
    return (
        f"links in emails (password reset, invitation, reports) will point to {base}, a "
        "loopback address only this machine can open; set web.public_url "
        "(MEDFLOW_WEB__PUBLIC_URL=https://portal.example.org) to the address users reach"
    )
