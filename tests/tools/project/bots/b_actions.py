"""Actions of the corpus bot."""

from orchestrator.engine import ActionContext, action


@action("lookup")
async def lookup(ctx: ActionContext, email: str = "") -> dict:
    return {"found": bool(email)}
