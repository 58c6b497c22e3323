"""Safe compilation of a typed formula such as ``x**2 + 3*sin(y)`` into vectorized NumPy functions.

The text is parsed with ``ast.parse(mode="eval")`` and walked against an explicit whitelist:
numbers, the caller's variable names, the constants ``pi`` and ``e``, calls of the functions in
``ALLOWED_FUNCTIONS`` by plain name with positional arguments, ``+ - * / // % **`` (``^`` is read
as a power, as in math notation) and unary ``+ -``. Everything else is refused. The same walk
bounds the size of the input, of the tree and of every constant, so nothing can hang: all of that
happens before any sympy object exists (sympy evaluates integer powers eagerly). Only then is a
sympy expression built node by node from the checked tree and turned into a NumPy function with
``sympy.lambdify``; ``max``, ``min`` and ``%`` stay opaque to sympy (its Max compares every pair of
arguments through the assumptions system, seconds for a few dozen). The built expression's tree is
counted before it is printed, so printing is bounded too, and sympy's whole part runs under a
hard time limit (``core.deadline``): its evaluation of some constants never ends. The gradient is not sympy's: symbolic
derivatives grow with the formula (a tower of powers, max of max of ...) and took minutes to
print; it is forward-mode differentiation over the same checked tree, one value and one partial
per node, so its cost is linear in the (bounded) formula. The user's text never reaches ``eval``,
``exec`` or sympy's own parser; lambdify executes only the code sympy prints from the checked
expression. Results are cached by the formula's normalised text, so a class opening one link
compiles it once.

Refusals raise ``ExpressionError`` whose ``code`` is machine-readable so the UI can translate it;
undefined points (division by zero, log of a negative, complex results) evaluate to NaN or inf
silently, and ``nonfinite_fraction`` reports how much of a grid they cover.
"""

import ast
import functools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import sympy as sp

from core.deadline import TimeUp, within

MAX_LENGTH = 500  # characters
MAX_NODES = 200  # AST nodes
MAX_DEPTH = 20  # nesting of operators and calls
MAX_MAGNITUDE = 1e300  # any constant (sub)expression
MAX_EXPONENT = 1e6  # constant exponent of a power whose base holds a variable
# Bits an exact rational constant may need: (1 + 10**-15)**(10**15) is near e in floating point
# but its exact value has ~10**16 digits, which sympy would try to compute.
MAX_EXACT_BITS = 4096
# Parts of the sympy expression once built (sympy may rewrite a little: log10(a) is
# log(a)/log(10)). About 10x what 200 AST nodes normally give; printing 5000 parts takes ~0.3 s.
MAX_TREE = 5000
_INT64_MAX = 2**63 - 1
CACHE_SIZE = 256
# Hard limit, in CPU seconds of the compiling thread, on sympy's part (build, print): typical
# formulas take 5-50 ms, the first of a process 0.3 s, the worst hostile ones found 0.3 s; sympy's
# evaluation of some constants never ends (tanh(log(acos(5)))). CPU time, so that a loaded server
# does not refuse a formula that fits, and the refusal can be cached like any other.
COMPILE_SECONDS = 0.8  # compiled formulas kept (each a few kB)

ERROR_MESSAGES = {
    "empty": "the formula is empty",
    "too_long": f"the formula is longer than {MAX_LENGTH} characters",
    "syntax": "the formula is not valid syntax",
    "forbidden": "the formula uses a construct that is not allowed",
    "unknown_name": "the formula uses unknown names",
    "not_a_function": "a name is called like a function but is not one",
    "not_called": "a function name is used without calling it",
    "arity": "a function is called with the wrong number of arguments",
    "too_complex": f"the formula is nested deeper than {MAX_DEPTH} or has over {MAX_NODES} parts",
    "too_large": "the formula contains a number too large to compute",
    "not_real": "the formula contains a complex number",
    "undefined": "the formula is undefined everywhere (e.g. division by zero)",
    "too_big": "the formula grows to more than {limit} parts once written out",
    "too_slow": "the formula took more than {limit} s to prepare",
    "not_differentiable": "the formula could not be differentiated",
    "unprocessable": "the computer algebra failed on the formula",
}


class ExpressionError(ValueError):
    """A refused formula: ``code`` for the UI, 1-based column ``position``, offending ``names``;
    ``limit`` is the bound a 'too_big' or 'too_slow' formula went past, for the message."""

    def __init__(self, code: str, position: int | None = None, names: Sequence[str] = ()):
        self.code = code
        self.position = position
        self.names = tuple(names)
        self.limit = {"too_big": MAX_TREE, "too_slow": COMPILE_SECONDS}.get(code)
        message = ERROR_MESSAGES.get(code, code).format(limit=self.limit)
        if names:
            message += ": " + ", ".join(self.names)
        if position is not None:
            message += f" (column {position})"
        super().__init__(message)


class CompiledExpression(NamedTuple):
    """``fn(*arrays)`` and ``grad(*arrays)`` take one array per variable, positionally in the order
    of ``variables``, broadcast them, and return a float array (``grad``: a tuple of partials, one
    per variable). ``grad`` is None unless the gradient was asked for. ``size``: parts of the
    expression sympy built (at most MAX_TREE), what printing it cost."""

    fn: Callable[..., np.ndarray]
    grad: Callable[..., tuple[np.ndarray, ...]] | None
    text: str
    latex: str
    variables: tuple[str, ...]
    size: int = 0


def _log(base):
    return lambda a: sp.log(a, base)


# name -> (sympy builder, float version for constant folding, number of arguments; None = 2 or more)
_FUNCTIONS: dict[str, tuple[Callable, Callable, int | None]] = {
    "sin": (sp.sin, math.sin, 1),
    "cos": (sp.cos, math.cos, 1),
    "tan": (sp.tan, math.tan, 1),
    "arcsin": (sp.asin, math.asin, 1),
    "asin": (sp.asin, math.asin, 1),
    "arccos": (sp.acos, math.acos, 1),
    "acos": (sp.acos, math.acos, 1),
    "arctan": (sp.atan, math.atan, 1),
    "atan": (sp.atan, math.atan, 1),
    "sinh": (sp.sinh, math.sinh, 1),
    "cosh": (sp.cosh, math.cosh, 1),
    "tanh": (sp.tanh, math.tanh, 1),
    "exp": (sp.exp, math.exp, 1),
    "log": (sp.log, math.log, 1),
    "ln": (sp.log, math.log, 1),
    "log10": (_log(10), math.log10, 1),
    "log2": (_log(2), math.log2, 1),
    "sqrt": (sp.sqrt, math.sqrt, 1),
    "abs": (sp.Abs, abs, 1),
    "sign": (sp.sign, lambda a: float(np.sign(a)), 1),
    "floor": (sp.floor, math.floor, 1),
    "ceil": (sp.ceiling, math.ceil, 1),
    "min": (sp.Min, min, None),
    "max": (sp.Max, max, None),
}
ALLOWED_FUNCTIONS: tuple[str, ...] = tuple(_FUNCTIONS)
ALLOWED_CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)

# Full-width forms (common with Chinese input methods) and math signs, mapped one character to
# one character so that error columns still point into the text the user typed.
_TRANSLATE = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_TRANSLATE.update({ord("×"): "*", ord("÷"): "/", ord("−"): "-", ord("\n"): " ", ord("\t"): " "})


class _Info(NamedTuple):
    """What the check pass knows of a subtree: constant or not, its float value, its exact size."""

    constant: bool
    value: float = math.nan
    bits: int = 0  # size of the exact rational sympy will hold; 0 = floating point (inexact)


_VARIABLE = _Info(False)


def _column(text: str, node: ast.AST) -> int:
    # ast columns count UTF-8 bytes; the UI wants characters.
    return len(text.encode()[: node.col_offset].decode(errors="ignore")) + 1


def _float_op(op: ast.operator, a: float, b: float) -> float:
    try:
        if isinstance(op, ast.Add):
            r = a + b
        elif isinstance(op, ast.Sub):
            r = a - b
        elif isinstance(op, ast.Mult):
            r = a * b
        elif isinstance(op, ast.Div):
            r = a / b
        elif isinstance(op, ast.FloorDiv):
            r = a // b
        elif isinstance(op, ast.Mod):
            r = a % b
        else:
            r = a**b
    except OverflowError:
        return math.inf
    except (ZeroDivisionError, ValueError):
        return math.nan
    return r if isinstance(r, float | int) else math.nan  # complex (negative ** fraction)


class _Checker:
    """Whitelist walk of the AST; raises ExpressionError, builds nothing."""

    def __init__(self, text: str, variables: Sequence[str]):
        self.text = text
        self.variables = set(variables)
        self.nodes = 0
        self.unknown: dict[str, int] = {}

    def fail(self, code: str, node: ast.AST, names: Sequence[str] = ()):
        raise ExpressionError(code, _column(self.text, node), names)

    def constant(self, node: ast.AST, value: float, bits: int) -> _Info:
        if abs(value) > MAX_MAGNITUDE or bits > MAX_EXACT_BITS:
            self.fail("too_large", node)
        return _Info(True, value, bits)

    def visit(self, node: ast.AST, depth: int) -> _Info:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            self.fail("too_complex", node)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, complex):
                self.fail("not_real", node)
            if isinstance(v, bool) or not isinstance(v, int | float):
                self.fail("forbidden", node)
            if isinstance(v, int):
                if v.bit_length() > 1000:  # float(v) would overflow
                    self.fail("too_large", node)
                return self.constant(node, float(v), max(v.bit_length(), 1))
            return self.constant(node, v, 0)
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                self.fail("forbidden", node, [node.id])
            if node.id in self.variables:
                return _VARIABLE
            if node.id in ALLOWED_CONSTANTS:
                return _Info(True, float(ALLOWED_CONSTANTS[node.id]), 2)
            if node.id in _FUNCTIONS:
                self.fail("not_called", node, [node.id])
            self.unknown.setdefault(node.id, _column(self.text, node))
            return _VARIABLE
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.UAdd | ast.USub):
                self.fail("forbidden", node)
            info = self.visit(node.operand, depth + 1)
            return info._replace(value=-info.value) if isinstance(node.op, ast.USub) else info
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINOPS):
                self.fail("forbidden", node)
            a = self.visit(node.left, depth + 1)
            b = self.visit(node.right, depth + 1)
            power = isinstance(node.op, ast.Pow)
            if not (a.constant and b.constant):
                if power and b.constant and abs(b.value) > MAX_EXPONENT:
                    self.fail("too_large", node.right)
                return _VARIABLE
            value = _float_op(node.op, a.value, b.value)
            if a.bits == 0 or b.bits == 0:
                bits = 0  # a float anywhere makes sympy compute in floating point
            elif power:
                # An exact power keeps every digit: size grows with the exponent.
                bits = a.bits * max(1, math.ceil(abs(b.value))) if math.isfinite(b.value) else 0
            else:
                bits = a.bits + b.bits + 1
            return self.constant(node, value, bits)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                self.fail("forbidden", node)
            name = node.func.id
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                self.fail("forbidden", node)
            if name.startswith("_"):
                self.fail("forbidden", node, [name])
            if name not in _FUNCTIONS:
                if name in self.variables or name in ALLOWED_CONSTANTS:
                    self.fail("not_a_function", node, [name])
                self.unknown.setdefault(name, _column(self.text, node))
                for a in node.args:
                    self.visit(a, depth + 1)
                return _VARIABLE
            _, float_fn, arity = _FUNCTIONS[name]
            if len(node.args) != arity and not (arity is None and len(node.args) >= 2):
                self.fail("arity", node, [name])
            infos = [self.visit(a, depth + 1) for a in node.args]
            if not all(i.constant for i in infos):
                return _VARIABLE
            try:
                value = float(float_fn(*(i.value for i in infos)))
            except OverflowError:
                value = math.inf
            except (ValueError, ZeroDivisionError):
                value = math.nan
            bits = max(i.bits for i in infos)
            if bits and math.isfinite(value):
                # sympy may evaluate to an exact number of this size (floor, sqrt of a square).
                bits = max(bits, int(math.log2(abs(value) + 1)) + 2)
            return self.constant(node, value, bits)
        self.fail("forbidden", node)
        raise AssertionError  # unreachable: fail raises


class _FloorDiv(sp.Function):
    """``a // b`` computed as Python and NumPy do: the floor of the correctly rounded quotient.

    sympy's ``floor(a/b)`` prints as ``floor((1/49)*a)``, which is 0 at a = 49, so ``epoch // 49``
    differed from the int arithmetic torch runs a typed lambda with; ``numpy.floor_divide`` is
    exact for whole numbers below 2**53. Piecewise constant: derivative 0 wherever it exists.
    """

    @classmethod
    def eval(cls, a, b):
        if b.is_zero:
            return sp.nan  # refused as undefined, as a / 0 is
        if a.is_Number and b.is_Number:
            return sp.floor(a / b)  # constants fold exactly
        return None

    def fdiff(self, argindex=1):
        return sp.S.Zero

    def _numpycode(self, printer):
        a, b = (printer._print(arg) for arg in self.args)
        return f"{printer._module_format('numpy.floor_divide')}({a}, {b})"

    def _latex(self, printer):
        a, b = (printer._print(arg) for arg in self.args)
        return rf"\left\lfloor \frac{{{a}}}{{{b}}} \right\rfloor"


# Opaque to sympy (no pairwise comparisons, no floor rewriting); printed as calls of these names
# and bound to the NumPy functions in _NUMPY_NAMES.
_MAX, _MIN, _MOD = sp.Function("max"), sp.Function("min"), sp.Function("mod")


def _maximum(*args):
    return functools.reduce(np.maximum, args)


def _minimum(*args):
    return functools.reduce(np.minimum, args)


def _mod(a, b):
    # Python's (and NumPy's) modulo: the sign of the divisor; a % 0 is NaN.
    return np.mod(a, b)


_NUMPY_NAMES = {"max": _maximum, "min": _minimum, "mod": _mod}


class _Builder:
    """Builds the sympy expression from a tree the _Checker accepted."""

    def __init__(self, symbols: dict[str, sp.Symbol]):
        self.symbols = symbols

    def build(self, node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Constant):
            v = node.value
            return sp.Integer(v) if isinstance(v, int) else sp.Float(v)
        if isinstance(node, ast.Name):
            return self.symbols.get(node.id, ALLOWED_CONSTANTS.get(node.id))
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            a, b = self.build(node.left), self.build(node.right)
            op = node.op
            if isinstance(op, ast.Add):
                return a + b
            if isinstance(op, ast.Sub):
                return a - b
            if isinstance(op, ast.Mult):
                return a * b
            if isinstance(op, ast.Div):
                return a / b
            if isinstance(op, ast.FloorDiv):
                return _FloorDiv(a, b)
            if isinstance(op, ast.Mod):
                # a % 0 is undefined. Not a - b*floor(a/b): that repeats a and b, so nested
                # modulos doubled in size at each level.
                return sp.nan if b.is_zero else _MOD(a, b)
            return a**b
        name = node.func.id
        fn = {"max": _MAX, "min": _MIN}.get(name, _FUNCTIONS[name][0])
        return fn(*(self.build(a) for a in node.args))


def _finite_numbers(expr: sp.Expr) -> bool:
    # An AccumBounds is what sympy makes of atan(zoo) (arctan(log2(0))): an interval, no number.
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan) or expr.atoms(sp.AccumBounds):
        return False
    # lambdify prints rationals as Python ints, which NumPy cannot convert beyond ~1e308.
    return all(abs(r.p) <= MAX_MAGNITUDE and r.q <= MAX_MAGNITUDE for r in expr.atoms(sp.Rational))


def tree_size(expr: sp.Basic, limit: int | None = None) -> int:
    """Parts of ``expr`` counted as a tree (as sympy prints it), stopping once past ``limit``
    (default MAX_TREE), so counting is bounded even where sympy shares repeated subtrees."""
    limit = MAX_TREE if limit is None else limit
    count, stack = 0, [expr]
    while stack and count <= limit:
        count += 1
        stack.extend(stack.pop().args)
    return count


# ---------------------------------------------------------------------------------------------
# The gradient: forward-mode differentiation over the checked tree. Each node compiles to a
# function of the variables' arrays returning (value, partials), a partial None where it is zero.

Dual = tuple[np.ndarray, tuple[np.ndarray | None, ...]]


def _scaled(partials, factor) -> tuple:
    return tuple(None if p is None else p * factor for p in partials)


def _summed(*terms: tuple) -> tuple:
    """Elementwise sum of partial tuples, None + None staying None."""
    out = []
    for ps in zip(*terms, strict=True):
        present = [p for p in ps if p is not None]
        out.append(functools.reduce(np.add, present) if present else None)
    return tuple(out)


# name -> (NumPy value, derivative from (argument, value)); None: zero wherever it exists.
_DUAL_FUNCTIONS: dict[str, tuple[Callable, Callable | None]] = {
    "sin": (np.sin, lambda a, v: np.cos(a)),
    "cos": (np.cos, lambda a, v: -np.sin(a)),
    "tan": (np.tan, lambda a, v: 1 + v * v),
    "asin": (np.arcsin, lambda a, v: 1 / np.sqrt(1 - a * a)),
    "acos": (np.arccos, lambda a, v: -1 / np.sqrt(1 - a * a)),
    "atan": (np.arctan, lambda a, v: 1 / (1 + a * a)),
    "sinh": (np.sinh, lambda a, v: np.cosh(a)),
    "cosh": (np.cosh, lambda a, v: np.sinh(a)),
    "tanh": (np.tanh, lambda a, v: 1 - v * v),
    "exp": (np.exp, lambda a, v: v),
    "log": (np.log, lambda a, v: 1 / a),
    "log10": (np.log10, lambda a, v: 1 / (a * math.log(10))),
    "log2": (np.log2, lambda a, v: 1 / (a * math.log(2))),
    "sqrt": (np.sqrt, lambda a, v: 0.5 / v),
    "abs": (np.abs, lambda a, v: np.sign(a)),
    "sign": (np.sign, None),
    "floor": (np.floor, None),
    "ceil": (np.ceil, None),
}
_DUAL_FUNCTIONS.update(
    arcsin=_DUAL_FUNCTIONS["asin"],
    arccos=_DUAL_FUNCTIONS["acos"],
    arctan=_DUAL_FUNCTIONS["atan"],
    ln=_DUAL_FUNCTIONS["log"],
)


def _extreme(pick: Callable) -> Callable[..., Dual]:
    """max or min: the partials of the arguments that attain it; at a tie, their mean."""

    def dual(*args: Dual) -> Dual:
        value = functools.reduce(pick, (v for v, _ in args))
        ties = [np.asarray(v == value, dtype=float) for v, _ in args]
        count = functools.reduce(np.add, ties)
        return value, _scaled(
            _summed(*(_scaled(p, w) for (_, p), w in zip(args, ties, strict=True))), 1 / count
        )

    return dual


def _power(a: Dual, b: Dual) -> Dual:
    (u, du), (w, dw) = a, b
    value = u**w
    terms = []
    if any(p is not None for p in du):
        # d(u^w) = w u^(w-1) du; written so that u = 0 with w = 2 gives 0, not 0 * inf.
        terms.append(_scaled(du, np.where(w == 0, 0.0, w * u ** (w - 1))))
    if any(p is not None for p in dw):
        terms.append(_scaled(dw, value * np.log(u)))
    return value, _summed(*terms) if terms else du


def _binary(op: ast.operator, a: Dual, b: Dual) -> Dual:
    (u, du), (w, dw) = a, b
    if isinstance(op, ast.Add):
        return u + w, _summed(du, dw)
    if isinstance(op, ast.Sub):
        return u - w, _summed(du, _scaled(dw, -1.0))
    if isinstance(op, ast.Mult):
        return u * w, _summed(_scaled(du, w), _scaled(dw, u))
    if isinstance(op, ast.Div):
        q = u / w
        return q, _scaled(_summed(du, _scaled(dw, -q)), 1 / w)
    if isinstance(op, ast.FloorDiv):
        return np.floor_divide(u, w), (None,) * len(du)
    if isinstance(op, ast.Mod):
        return np.mod(u, w), _summed(du, _scaled(dw, -np.floor(u / w)))
    return _power(a, b)


def _dual(node: ast.AST, variables: tuple[str, ...]) -> Callable[[Sequence[np.ndarray]], Dual]:
    """Compile a checked node into ``f(arrays) -> (value, partials)``."""
    zero = (None,) * len(variables)
    if isinstance(node, ast.Constant | ast.Name) and getattr(node, "id", None) in variables:
        i = variables.index(node.id)
        unit = tuple(1.0 if j == i else None for j in range(len(variables)))
        return lambda xs: (xs[i], unit)
    if isinstance(node, ast.Constant | ast.Name):
        c = node.value if isinstance(node, ast.Constant) else ALLOWED_CONSTANTS[node.id]
        # NumPy's float, not Python's: 1/0.0 is inf and (-8.0)**(1/3) NaN, not an exception.
        c = np.float64(float(c))
        return lambda xs: (c, zero)
    if isinstance(node, ast.UnaryOp):
        f = _dual(node.operand, variables)
        if isinstance(node.op, ast.UAdd):
            return f
        return lambda xs: (lambda v, p: (-v, _scaled(p, -1.0)))(*f(xs))
    if isinstance(node, ast.BinOp):
        left, right, op = _dual(node.left, variables), _dual(node.right, variables), node.op
        return lambda xs: _binary(op, left(xs), right(xs))
    name = node.func.id
    args = [_dual(a, variables) for a in node.args]
    if name in ("max", "min"):
        combine = _extreme(np.maximum if name == "max" else np.minimum)
        return lambda xs: combine(*(a(xs) for a in args))
    value_fn, derivative = _DUAL_FUNCTIONS[name]
    (arg,) = args

    def call(xs):
        a, p = arg(xs)
        v = value_fn(a)
        if derivative is None or all(q is None for q in p):
            return v, zero
        return v, _scaled(p, derivative(a, v))

    return call


def _gradient(node: ast.AST, variables: tuple[str, ...]) -> Callable[..., tuple[np.ndarray, ...]]:
    dual = _dual(node, variables)

    def grad(*arrays):
        arrays = [np.asarray(a, dtype=float) for a in arrays]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        with np.errstate(all="ignore"):
            _, partials = dual(arrays)
            return tuple(
                np.zeros(shape) if p is None else np.array(np.broadcast_to(p, shape), dtype=float)
                for p in partials
            )

    return grad


# ---------------------------------------------------------------------------------------------


def _vectorized(raw: Callable) -> Callable[..., np.ndarray]:
    def fn(*arrays):
        arrays = [np.asarray(a, dtype=float) for a in arrays]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        with np.errstate(all="ignore"):
            try:
                out = np.asarray(raw(*arrays))
            except TypeError:
                # A complex constant fed to floor or % (ceil(asin(1e300))//x): NumPy refuses
                # what is outside the real formula's domain everywhere.
                out = np.full(shape, np.nan)
            if np.iscomplexobj(out):
                # A complex value is outside the real formula's domain, like log of a negative.
                out = np.where(out.imag == 0, out.real, np.nan)
            return np.array(np.broadcast_to(out.astype(float), shape))

    return fn


def _checked_tree(text: str, variables: tuple[str, ...]) -> tuple[str, ast.Expression]:
    """The typed text (full-width forms read as ASCII) and its tree, checked; ExpressionError."""
    for v in variables:
        if not v.isidentifier() or v.startswith("_") or v in _FUNCTIONS or v in ALLOWED_CONSTANTS:
            raise ValueError(f"unusable variable name {v=}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError("too_long")
    typed = text.translate(_TRANSLATE).strip()
    if not typed:
        raise ExpressionError("empty")
    lead = len(text) - len(text.lstrip())
    # ``^`` means a power in math notation. Replaced in the text, not in the tree, so that it
    # binds like ``**`` (``x^3 - y`` is not ``x ^ (3 - y)``); origin maps columns back.
    source = typed.replace("^", "**")
    origin = [j for j, ch in enumerate(typed) for _ in range(2 if ch == "^" else 1)]
    origin.append(len(typed))

    def user_column(column: int) -> int:
        return origin[min(max(column, 1), len(origin)) - 1] + 1 + lead

    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        # An unexpected end of input has no offset: point just past the text.
        raise ExpressionError("syntax", user_column(err.offset or len(source) + 1)) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("too_complex") from None
    checker = _Checker(source, variables)
    try:
        checker.visit(tree.body, 1)
    except ExpressionError as err:
        if err.position is not None:
            err.position = user_column(err.position)
        raise
    if checker.unknown:
        names = sorted(checker.unknown, key=checker.unknown.get)
        raise ExpressionError("unknown_name", user_column(checker.unknown[names[0]]), names)
    return typed, tree


# What sympy itself raises on some checked formulas: arcsin(sin(10**299)) compares a relational
# while evaluating (TypeError, re-raised by sympy's cache as an AttributeError); printing an
# interval it made is a NotImplementedError.
_SYMPY_FAILURES = (TypeError, ValueError, AttributeError, NotImplementedError, RecursionError)


def _sympy_function(tree: ast.Expression, symbols: dict[str, sp.Symbol]):
    """``(fn, latex, size)`` of the value, or the ExpressionError it gets."""
    expr = _Builder(symbols).build(tree.body)
    size = tree_size(expr)
    if size > MAX_TREE:
        return ExpressionError("too_big")
    if not _finite_numbers(expr):
        return ExpressionError("undefined")
    if not expr.free_symbols and expr.is_extended_real is False:
        return ExpressionError("not_real")
    # lambdify prints integers as Python ints, which NumPy's functions refuse beyond int64
    # (numpy.sin(10**280) is a TypeError); as floats they are what NumPy would compute with.
    wide = {i: sp.Float(i) for i in expr.atoms(sp.Integer) if abs(i) > _INT64_MAX}
    raw = sp.lambdify(list(symbols.values()), expr.xreplace(wide), modules=[_NUMPY_NAMES, "numpy"])
    return _vectorized(raw), sp.latex(expr), size


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compiled(normalised: str, variables: tuple[str, ...], gradient: bool):
    """CompiledExpression of a checked formula's normalised text, or the ExpressionError it gets.

    Refusals are cached too: a class sending the same link pays once either way."""
    tree = ast.parse(normalised, mode="eval")  # already checked, and within the same bounds
    symbols = {v: sp.Symbol(v, real=True) for v in variables}
    try:
        value = within(COMPILE_SECONDS, _sympy_function, tree, symbols)
    except TimeUp:  # sympy looping on a constant: tanh(log(acos(5))) ran for minutes
        return ExpressionError("too_slow")
    except sp.PrecisionExhausted:  # a constant such as floor(sin(10**299)*10**250)
        return ExpressionError("too_large")
    except ZeroDivisionError:  # sympy's floats divide exactly: 0.0/0.0 raises
        return ExpressionError("undefined")
    except _SYMPY_FAILURES:
        return ExpressionError("unprocessable")
    if isinstance(value, ExpressionError):
        return value
    fn, latex, size = value
    grad = _gradient(tree.body, variables) if gradient else None
    return CompiledExpression(fn, grad, normalised, latex, variables, size)


def compile_expression(
    text: str, variables: Sequence[str] = ("x", "y"), gradient: bool = True
) -> CompiledExpression:
    """Check ``text`` against the whitelist and compile it (and its gradient, if asked for) to
    NumPy functions; ``grad`` is None when ``gradient`` is False."""
    variables = tuple(variables)
    typed, tree = _checked_tree(text, variables)
    result = _compiled(ast.unparse(tree), variables, gradient)
    if isinstance(result, ExpressionError):
        raise ExpressionError(result.code, result.position, result.names)
    return result._replace(text=typed)


def nonfinite_fraction(values: np.ndarray) -> float:
    """Share of entries that are NaN or ±inf, e.g. grid points where a formula is undefined."""
    values = np.asarray(values)
    return float(np.mean(~np.isfinite(values))) if values.size else 0.0
