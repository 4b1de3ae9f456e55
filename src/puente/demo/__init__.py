"""The demo world: Mexico's IMSS network, Moscow and Volgograd clinics, and
Viet Nam's remote-care network with its Lao and Cambodian spokes, with
practitioners and patients, generated deterministically from a seed."""

from __future__ import annotations

from puente.demo.world import PHASES, World, load_demo

__all__ = ["PHASES", "World", "load_demo"]
