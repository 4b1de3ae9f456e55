"""Every route the app serves, with its full path.

FastAPI ≥ 0.16x keeps included routers as nested objects instead of copying
their routes into ``app.routes``; walking them is the only way to see all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount

from puente.access.gate import Require


@dataclass(frozen=True)
class Served:
    path: str
    methods: frozenset[str]
    route: APIRoute
    router_dependencies: tuple[Any, ...]

    @property
    def gated(self) -> bool:
        if any(isinstance(d.dependency, Require) for d in self.router_dependencies):
            return True
        return bool(_gates(self.route.dependant))


def _gates(dependant: Dependant) -> list[Require]:
    found = [dependant.call] if isinstance(dependant.call, Require) else []
    for sub in dependant.dependencies:
        found.extend(_gates(sub))
    return found


def _walk(routes: Sequence[BaseRoute], prefix: str, deps: tuple[Any, ...]) -> Iterator[Served]:
    for route in routes:
        if isinstance(route, APIRoute):
            deps_here = deps + tuple(route.dependencies)
            yield Served(prefix + route.path, frozenset(route.methods), route, deps_here)
        elif hasattr(route, "original_router"):
            context = route.include_context
            yield from _walk(
                route.original_router.routes,
                prefix + context.prefix,
                deps + tuple(context.dependencies) + tuple(route.original_router.dependencies),
            )


def served_routes(app: FastAPI) -> list[Served]:
    return list(_walk(app.routes, "", tuple(app.router.dependencies)))


def mounts(app: FastAPI) -> set[str]:
    return {r.path for r in app.routes if isinstance(r, Mount)}
