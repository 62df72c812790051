"""User-facing error types. Every message names the object at fault (population, key, code line)."""


class NeurogenError(Exception):
    """Base class of all errors neurogen raises for bad user input."""


class ModelDefinitionError(NeurogenError, ValueError):
    """A model, population, parameter or reference is malformed."""


class CodeError(NeurogenError, ValueError):
    """A code string is malformed or uses a name it may not use.

    Formatted as ``[<group kind> '<name>' <code kind>, line N] Error at '<token>': message``.
    """

    def __init__(self, context, line, token, message):
        self.context, self.line, self.token, self.detail = context, line, token, message
        where = f"[{context}, line {line}]" if line is not None else f"[{context}]"
        at = f" Error at '{token}':" if token is not None else ""
        super().__init__(f"{where}{at} {message}")


class BuildError(NeurogenError, RuntimeError):
    """The generated code failed to compile."""


class BackendUnavailableError(NeurogenError, RuntimeError):
    """The requested backend cannot run on this machine."""
