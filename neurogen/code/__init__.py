"""The code-string language: tokenizer, legacy upgrade, name resolution and C translation."""
from .tokenizer import Token, tokenize
from .legacy import upgrade_code
from .translate import Scope, Name, translate, translate_expression

__all__ = ["Token", "tokenize", "upgrade_code", "Scope", "Name", "translate", "translate_expression"]
