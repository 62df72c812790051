"""Upgrade of GeNN 4 ``$(...)`` syntax to GeNN 5 plain names (with a FutureWarning)."""
import re
import textwrap
import warnings

from ..errors import CodeError

_RENAMES = {
    "addToInSyn": "addToPost",
    "addToInSynDelay": "addToPostDelay",
    "sT_pre": "st_pre", "sT_post": "st_post", "sT": "st",
    "prev_sT_pre": "prev_st_pre", "prev_sT_post": "prev_st_post",
    "seT_pre": "set_pre", "seT_post": "set_post",
}
_NAME_RE = re.compile(r"\$\(\s*([A-Za-z_]\w*)\s*\)")
_FUNC_RE = re.compile(r"\$\(\s*([A-Za-z_]\w*)\s*,")


def _rename(name, code, pos, context):
    if name in ("endRow", "endCol"):
        raise CodeError(context, code.count("\n", 0, pos) + 1, f"$({name})",
                        "$(endRow)/$(endCol) no longer exist: row build code runs once per row; use 'break'")
    return _RENAMES.get(name, name)


def upgrade_code(code, context):
    """Dedent ``code`` and rewrite legacy ``$(name)`` / ``$(func, args)`` forms."""
    if code is None:
        return None
    if not isinstance(code, str):
        raise CodeError(context, None, None, f"code must be a string, not {type(code).__name__}")
    code = textwrap.dedent(code).strip("\n")
    if "$(" not in code:
        return code
    warnings.warn(f"{context}: GeNN 4 '$(...)' syntax is deprecated; write plain names "
                  "(e.g. 'V' instead of '$(V)')", FutureWarning, stacklevel=4)

    def plain(m):
        name = _rename(m.group(1), code, m.start(), context)
        return name + "()" if name.startswith("gennrand") else name

    code = _NAME_RE.sub(plain, code)
    code = _FUNC_RE.sub(lambda m: _rename(m.group(1), code, m.start(), context) + "(", code)
    if "$(" in code:
        raise CodeError(context, code.count("\n", 0, code.index("$(")) + 1, "$(", "malformed '$(...)' expression")
    return code
