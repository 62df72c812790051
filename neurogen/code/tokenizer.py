"""Tokenizer for GeNN code strings (a C99 subset).

Tokens keep their source span so that translation can replace identifiers in place and keep
the original layout (which keeps ``#line`` mapping of compiler messages exact).
"""
import re
from dataclasses import dataclass

from ..errors import CodeError


@dataclass(frozen=True)
class Token:
    kind: str      # 'ident', 'number', 'string', 'char', 'op'
    text: str
    line: int
    start: int
    end: int


_TOKEN_RE = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+|\n)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<number>0[xX][0-9a-fA-F]*\.?[0-9a-fA-F]*[pP][+-]?\d+[fFlL]?
              |0[xX][0-9a-fA-F]+[uUlL]*
              |(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[fFdDuUlL]*)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])+')
  | (?P<op><<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|[-+*/%=<>!~&|^?:;,.(){}\[\]])
  | (?P<pp>\#)
  | (?P<bad>.)
""", re.VERBOSE | re.DOTALL)


def tokenize(code, context):
    """Split ``code`` into tokens; raise CodeError for characters that are not C."""
    tokens = []
    line = 1
    for m in _TOKEN_RE.finditer(code):
        kind = m.lastgroup
        text = m.group()
        if kind == "ws":
            if text == "\n":
                line += 1
            continue
        if kind == "comment":
            line += text.count("\n")
            continue
        if kind == "pp":
            raise CodeError(context, line, "#", "the preprocessor is not supported in code strings")
        if kind == "bad":
            raise CodeError(context, line, text, "unexpected character")
        tokens.append(Token(kind, text, line, m.start(), m.end()))
    return tokens
