"""Who is calling and what they may see: the caller of a use case (an API key's id, role and team) and the
ownership rule for jobs, their results and the scores they produced.

- ``admin`` sees everything; so does a caller without a key id (the command line, or ``QA_AUTH_DISABLED``).
- A key with a team (``qa-service keys create --team X``) sees what any key of team X owns.
- ``analyst`` without a team sees only what its own key owns. Others' ids are answered 404, never 403, so an
  id is not confirmed to exist.
- ``manager`` (read-only) without a team reads every stored score (it supervises); with a team, its team's.
  Managers cannot reach jobs or reviews at all (the routes' roles).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: key id (``None`` on the command line or with auth disabled), role, team."""

    key_id: str | None
    role: str
    team: str | None = None

    @property
    def owner(self) -> tuple[str | None, str | None]:
        """(key id, team) recorded on what this caller creates."""
        return self.key_id, self.team

    @property
    def scope(self) -> tuple[str, str | None] | None:
        """``None`` when the caller sees everything; else (key id, team): rows owned by the key or the team."""
        if self.key_id is None or self.role == "admin" or (self.role == "manager" and self.team is None):
            return None
        return self.key_id, self.team

    def may_see(self, owner_key_id: str | None, owner_team: str | None) -> bool:
        """Whether a row owned by (``owner_key_id``, ``owner_team``) is visible to this caller."""
        scope = self.scope
        if scope is None:
            return True
        key_id, team = scope
        return owner_key_id == key_id or (team is not None and owner_team == team)


EVERYONE = Caller(None, "admin")
"""The command line and internal callers: no ownership filter."""
