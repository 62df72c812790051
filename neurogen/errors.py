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


def user_location():
    """'file:line' of the first caller outside neurogen (where the user created an object)."""
    import os
    import sys
    package = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(package + os.sep):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def add_note(exc, note):
    """``exc.add_note`` on Python >= 3.11, the same attribute by hand before."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        exc.__notes__ = getattr(exc, "__notes__", []) + [note]
