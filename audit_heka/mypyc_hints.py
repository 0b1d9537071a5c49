"""mypyc's class options, with no run-time dependency on mypy_extensions.

Why: :class:`audit_heka.value.Value` is compiled in the compiled build
(setup.py) and must accept interpreted subclasses (the outputs' values);
mypyc reads that from ``@mypyc_attr(allow_interpreted_subclasses=True)``,
which it knows by its full name, ``mypy_extensions.mypyc_attr``. This
interpreted module gives mypy that name and Python a decorator that does
nothing, so that neither build imports mypy_extensions (nor its typing).
"""

from __future__ import annotations

__all__ = ["mypyc_attr"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr
else:

    def mypyc_attr(*attrs, **kwattrs):
        """The class as it is: the options are for mypyc."""
        return lambda cls: cls
