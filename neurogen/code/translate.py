"""Name resolution and translation of GeNN code strings to C.

Every identifier in a code string is resolved *before* any C is written: to a C keyword or
type, a local the code itself declared, a function available in this kind of code, or a name
the engine provides (a variable, parameter, reference, ``t``, ``id``, ...). Anything else is an
error that names the group, the kind of code, the line and the token. Writes to names that
are not writable (read-only variables, parameters, ``Isyn``, ...) are errors too.
"""
from dataclasses import dataclass, field

from ..errors import CodeError
from .tokenizer import tokenize

TYPE_WORDS = {
    "char", "short", "int", "long", "signed", "unsigned", "float", "double", "bool", "size_t",
    "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
    "scalar", "timepoint",
}
QUALIFIERS = {"const"}
KEYWORDS = {"if", "else", "for", "while", "do", "switch", "case", "default", "break", "continue",
            "sizeof", "true", "false"}
UNSUPPORTED = {
    "return": "'return' is not supported: code strings are statement blocks, not functions",
    "goto": "'goto' is not supported",
    "struct": "structs are not supported", "union": "unions are not supported",
    "typedef": "typedefs are not supported", "enum": "enums are not supported",
    "static": "storage classes are not supported", "extern": "storage classes are not supported",
    "register": "storage classes are not supported", "volatile": "'volatile' is not supported",
    "inline": "user-defined functions are not supported", "auto": "'auto' is not supported",
    "void": "user-defined functions are not supported",
}
#: C99 <math.h> functions available in every code string (type-generic through <tgmath.h>).
MATH_FUNCTIONS = {
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "pow", "hypot",
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh",
    "acosh", "atanh", "erf", "erfc", "tgamma", "lgamma", "fabs", "floor", "ceil", "round",
    "trunc", "rint", "nearbyint", "lround", "lrint", "fmod", "remainder", "fmin", "fmax",
    "fdim", "fma", "copysign", "isnan", "isinf", "isfinite", "signbit", "ldexp", "frexp",
    "printf",
}
#: GeNN helpers mapped onto engine macros (defined in the C prelude).
GENERIC_FUNCTIONS = {"min": "NG_MIN", "max": "NG_MAX", "abs": "NG_ABS"}
#: Names that exist somewhere in GeNN code, to turn "unknown name" into a helpful hint.
CONTEXT_ONLY_NAMES = {
    "addToPost", "addToPostDelay", "addToPre", "injectCurrent", "addSynapse", "Isyn", "inSyn",
    "id", "id_pre", "id_post", "id_syn", "num_neurons", "num_pre", "num_post", "st", "st_pre",
    "st_post", "prev_st_pre", "prev_st_post", "value", "gennrand", "gennrand_uniform",
    "gennrand_normal", "gennrand_exponential", "gennrand_log_normal", "gennrand_gamma",
    "gennrand_binomial", "id_post_begin", "row_length", "num_batch", "batch",
}
#: Number of arguments of every function code may call (None: variadic).
ARITY = {
    "min": 2, "max": 2, "abs": 1, "gennrand": 0, "gennrand_uniform": 0, "gennrand_normal": 0,
    "gennrand_exponential": 0, "gennrand_log_normal": 2, "gennrand_gamma": 1, "gennrand_binomial": 2,
    "addToPost": 1, "addToPre": 1, "addToPostDelay": 2, "injectCurrent": 1, "addSynapse": 1,
    "pow": 2, "atan2": 2, "hypot": 2, "fmod": 2, "remainder": 2, "fmin": 2, "fmax": 2, "fdim": 2,
    "copysign": 2, "ldexp": 2, "frexp": 2, "fma": 3, "printf": None,
}
_ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}


@dataclass
class Name:
    """What an identifier becomes in C, and whether code may write it."""
    expr: str
    writable: bool = False
    readonly_reason: str = "it is read-only in this code"


@dataclass
class Scope:
    """Names visible to one code string (or to several that share locals, e.g. sim/threshold/reset)."""
    context: str
    names: dict
    functions: dict = field(default_factory=dict)
    precision: str = "float"
    locals: set = field(default_factory=set)
    used: set = field(default_factory=set)
    written: set = field(default_factory=set)
    uses_rng: bool = False


def _check_brackets(tokens, context):
    stack = []
    for tok in tokens:
        if tok.text in _OPEN and tok.kind == "op":
            stack.append(tok)
        elif tok.text in _CLOSE and tok.kind == "op":
            if not stack or stack[-1].text != _CLOSE[tok.text]:
                raise CodeError(context, tok.line, tok.text, f"unmatched '{tok.text}'")
            stack.pop()
    if stack:
        raise CodeError(context, stack[-1].line, stack[-1].text, f"'{stack[-1].text}' is never closed")


def _next_after_subscripts(tokens, k):
    """Index of the first token after ``tokens[k]`` and any ``[...]`` subscripts following it."""
    j = k + 1
    while j < len(tokens) and tokens[j].text == "[":
        depth = 0
        while j < len(tokens):
            if tokens[j].text == "[":
                depth += 1
            elif tokens[j].text == "]":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        j += 1
    return j


def _convert_number(tok, scope):
    text = tok.text
    low = text.lower()
    if low.startswith("0x"):
        if "p" in low or "." in low:
            raise CodeError(scope.context, tok.line, text, "hex-float literals are not supported")
        return text
    is_float = any(c in low for c in ".e") or low.endswith(("f", "d"))
    if not is_float:
        if len(text.rstrip("uUlL")) > 1 and text.startswith("0"):
            raise CodeError(scope.context, tok.line, text, "octal literals are not supported")
        return text
    if low.endswith("d"):
        return text[:-1]                       # 'd' suffix: double
    if low.endswith("f"):
        return text
    if low[-1] in "ul":
        raise CodeError(scope.context, tok.line, text, "malformed floating-point literal")
    return text + "f" if scope.precision == "float" else text   # unsuffixed: scalar


def _count_args(tokens, k):
    """Arguments of the call whose name is ``tokens[k]`` (``tokens[k + 1]`` is its '(')."""
    depth, count, empty = 0, 1, True
    for tok in tokens[k + 1:]:
        if tok.text in ("(", "[", "{"):
            depth += 1
        elif tok.text in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return 0 if empty else count
        elif depth == 1:
            empty = False
            if tok.text == ",":
                count += 1
    return count


def _check_arity(tokens, k, ctx):
    name = tokens[k].text
    expected = ARITY.get(name, 1 if name in MATH_FUNCTIONS else None)
    if expected is None:
        return
    got = _count_args(tokens, k)
    if got != expected:
        raise CodeError(ctx, tokens[k].line, name,
                        f"{name}() takes {expected} argument{'s' if expected != 1 else ''}, got {got}")


def translate(code, scope, expression=False):
    """Translate one code string to C in ``scope``; return the C text (layout preserved)."""
    if code is None or not code.strip():
        return ""
    ctx = scope.context
    tokens = tokenize(code, ctx)
    _check_brackets(tokens, ctx)
    if expression:
        for tok in tokens:
            if tok.text in (";", "{", "}"):
                raise CodeError(ctx, tok.line, tok.text, "expected a single expression (no statements)")
    elif tokens and tokens[-1].text not in (";", "}"):
        raise CodeError(ctx, tokens[-1].line, tokens[-1].text, "missing ';' at the end of the code")

    out = []
    pos = 0
    declaring = False          # inside a declaration: identifiers after ',' are declared
    in_initialiser = False     # after a declarator's '=': a '*' there multiplies, it declares no pointer
    decl_depth = 0
    type_pending = False       # the previous significant tokens were a type specifier
    depth = 0
    prev = None
    for k, tok in enumerate(tokens):
        out.append(code[pos:tok.start])
        pos = tok.end
        text = tok.text
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        replacement = text
        if tok.kind == "op":
            if text in ("(", "[", "{"):
                depth += 1
            elif text in (")", "]", "}"):
                depth -= 1
                if declaring and depth < decl_depth:
                    declaring = False
            if text == ";" and declaring and depth <= decl_depth:
                declaring = False
            if declaring and depth == decl_depth and text in ("=", ","):
                in_initialiser = text == "="
            if text in ("->", "."):
                raise CodeError(ctx, tok.line, text, "structs and member access are not supported")
            if text == "&" and (prev is None or (prev.kind == "op" and prev.text not in (")", "]"))):
                raise CodeError(ctx, tok.line, "&", "the address-of operator '&' is not supported "
                                "(index extra global parameters instead, e.g. 'egp[offset]')")
            if text != "*":
                type_pending = False
        elif tok.kind == "number":
            replacement = _convert_number(tok, scope)
            type_pending = False
        elif tok.kind == "string":
            type_pending = False
        elif tok.kind == "ident":
            is_call = nxt is not None and nxt.text == "("
            if text in UNSUPPORTED:
                raise CodeError(ctx, tok.line, text, UNSUPPORTED[text])
            if text in TYPE_WORDS or text in QUALIFIERS:
                type_pending = True
            elif text in KEYWORDS:
                type_pending = False
            elif type_pending or (declaring and not in_initialiser and prev is not None
                                  and prev.text in (",", "*") and depth == decl_depth):
                # a declaration of a local
                if is_call:
                    raise CodeError(ctx, tok.line, text, "user-defined functions are not supported")
                if text.lower().startswith("ng_"):
                    raise CodeError(ctx, tok.line, text, "names starting with 'ng_' are reserved for generated code")
                if text in scope.names or text in scope.functions or text in MATH_FUNCTIONS:
                    raise CodeError(ctx, tok.line, text,
                                    f"local '{text}' would hide the name '{text}' provided to this code")
                scope.locals.add(text)
                declaring, decl_depth, type_pending, in_initialiser = True, depth, False, False
            elif text in scope.locals:
                j = _next_after_subscripts(tokens, k)
                after = tokens[j] if j < len(tokens) else None
                if expression and ((after is not None and after.text in _ASSIGN_OPS | {"++", "--"})
                                   or (prev is not None and prev.text in ("++", "--"))):
                    raise CodeError(ctx, tok.line, text, f"a condition must not change state, but this writes "
                                    f"'{text}'")
            elif is_call and (text in scope.functions or text in MATH_FUNCTIONS or text in GENERIC_FUNCTIONS):
                _check_arity(tokens, k, ctx)
                replacement = scope.functions.get(text, GENERIC_FUNCTIONS.get(text, text))
                if text.startswith("gennrand"):
                    scope.uses_rng = True
            elif text in scope.names:
                if is_call:
                    raise CodeError(ctx, tok.line, text, f"'{text}' is not a function")
                name = scope.names[text]
                j = _next_after_subscripts(tokens, k)
                after = tokens[j] if j < len(tokens) else None
                writes = ((after is not None and after.text in _ASSIGN_OPS | {"++", "--"})
                          or (prev is not None and prev.text in ("++", "--")))
                if writes:
                    if expression:
                        raise CodeError(ctx, tok.line, text, f"a condition must not change state, but this writes "
                                        f"'{text}'")
                    if not name.writable:
                        raise CodeError(ctx, tok.line, text, f"cannot write to '{text}': {name.readonly_reason}")
                    scope.written.add(text)
                scope.used.add(text)
                replacement = name.expr
            elif text in scope.functions or text in MATH_FUNCTIONS or text in GENERIC_FUNCTIONS:
                raise CodeError(ctx, tok.line, text, f"'{text}' is a function: call it as {text}(...)")
            elif text in CONTEXT_ONLY_NAMES or text in {"gennrand_uniform"}:
                raise CodeError(ctx, tok.line, text, f"'{text}' is not available in this code")
            else:
                raise CodeError(ctx, tok.line, text, f"unknown name '{text}'")
        prev = tok
        out.append(replacement)
    out.append(code[pos:])
    text = "".join(out)
    return f"({text})" if expression else text


def translate_expression(code, scope):
    return translate(code, scope, expression=True)
