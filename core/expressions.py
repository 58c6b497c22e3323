"""Safe compilation of a typed formula such as ``x**2 + 3*sin(y)`` into vectorized NumPy functions.

The text is parsed with ``ast.parse(mode="eval")`` and walked against an explicit whitelist:
numbers, the caller's variable names, the constants ``pi`` and ``e``, calls of the functions in
``ALLOWED_FUNCTIONS`` by plain name with positional arguments, ``+ - * / // % **`` (``^`` is read
as a power, as in math notation) and unary ``+ -``. Everything else is refused. The same walk
bounds the size of the input, of the tree and of every constant, so nothing can hang: all of that
happens before any sympy object exists (sympy evaluates integer powers eagerly). Only then is a
sympy expression built node by node from the checked tree, differentiated symbolically and turned
into NumPy functions with ``sympy.lambdify``. The user's text never reaches ``eval``, ``exec`` or
sympy's own parser; lambdify executes only the code sympy prints from the checked expression.

Refusals raise ``ExpressionError`` whose ``code`` is machine-readable so the UI can translate it;
undefined points (division by zero, log of a negative, complex results) evaluate to NaN or inf
silently, and ``nonfinite_fraction`` reports how much of a grid they cover.
"""

import ast
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import sympy as sp

MAX_LENGTH = 500  # characters
MAX_NODES = 200  # AST nodes
MAX_DEPTH = 20  # nesting of operators and calls
MAX_MAGNITUDE = 1e300  # any constant (sub)expression
MAX_EXPONENT = 1e6  # constant exponent of a power whose base holds a variable
# Bits an exact rational constant may need: (1 + 10**-15)**(10**15) is near e in floating point
# but its exact value has ~10**16 digits, which sympy would try to compute.
MAX_EXACT_BITS = 4096

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
    "not_differentiable": "the formula could not be differentiated",
}


class ExpressionError(ValueError):
    """A refused formula: ``code`` for the UI, 1-based column ``position``, offending ``names``."""

    def __init__(self, code: str, position: int | None = None, names: Sequence[str] = ()):
        self.code = code
        self.position = position
        self.names = tuple(names)
        message = ERROR_MESSAGES.get(code, code)
        if names:
            message += ": " + ", ".join(self.names)
        if position is not None:
            message += f" (column {position})"
        super().__init__(message)


class CompiledExpression(NamedTuple):
    """``fn(*arrays)`` and ``grad(*arrays)`` take one array per variable, positionally in the order
    of ``variables``, broadcast them, and return a float array (``grad``: a tuple of partials, one
    per variable). ``grad`` is None if sympy could not differentiate the formula."""

    fn: Callable[..., np.ndarray]
    grad: Callable[..., tuple[np.ndarray, ...]] | None
    text: str
    latex: str
    variables: tuple[str, ...]


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
                if b.is_zero:  # a − 0·(a // 0) would simplify to a; a % 0 is undefined
                    return sp.nan
                # Python's (and NumPy's) modulo, written with // so sympy can differentiate it.
                return a - b * _FloorDiv(a, b)
            return a**b
        fn = _FUNCTIONS[node.func.id][0]
        return fn(*(self.build(a) for a in node.args))


def _finite_numbers(expr: sp.Expr) -> bool:
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        return False
    # lambdify prints rationals as Python ints, which NumPy cannot convert beyond ~1e308.
    return all(abs(r.p) <= MAX_MAGNITUDE and r.q <= MAX_MAGNITUDE for r in expr.atoms(sp.Rational))


def _fold(args: tuple, pick: int) -> sp.Expr:
    """max (pick=+1) or min (pick=-1) of ``args`` as (a + b ± |a − b|)/2, folded as a balanced tree.

    sympy differentiates an n-argument Max into nested Piecewise conditions that NumPy cannot
    evaluate (``invalid entry 0 in condlist``) and that take minutes to lambdify from 5 arguments
    on. |a − b| differentiates to sign(a − b)·(a′ − b′): at a tie the gradient is the mean of the
    two, a subgradient. Only the gradient is built this way; the value keeps the exact Max/Min.
    """
    if len(args) == 1:
        return args[0]
    half = len(args) // 2
    a, b = _fold(args[:half], pick), _fold(args[half:], pick)
    return (a + b + pick * sp.Abs(a - b)) / 2


def _fold_max(*args: sp.Expr) -> sp.Expr:
    return _fold(args, 1)


def _fold_min(*args: sp.Expr) -> sp.Expr:
    return _fold(args, -1)


def _derivative(expr: sp.Expr, symbol: sp.Symbol) -> sp.Expr | None:
    try:
        d = expr.diff(symbol)
        # floor, ceil and sign are piecewise constant: derivative 0 wherever it exists (sympy
        # leaves floor's unevaluated and gives sign's as a DiracDelta, which NumPy can't print).
        d = d.replace(
            lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, sp.floor | sp.ceiling),
            lambda e: sp.S.Zero,
        ).doit()
        d = d.replace(sp.DiracDelta, lambda *args: sp.S.Zero)
    except (TypeError, ValueError, ArithmeticError):
        # sympy failing on what it built itself: x//y//x compares relationals while sorting.
        return None
    if d.has(sp.Derivative, sp.Subs) or not _finite_numbers(d):
        return None
    return d


def _vectorized(raw: Callable) -> Callable[..., np.ndarray]:
    def fn(*arrays):
        arrays = [np.asarray(a, dtype=float) for a in arrays]
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        with np.errstate(all="ignore"):
            out = np.asarray(raw(*arrays))
            if np.iscomplexobj(out):
                # A complex value is outside the real formula's domain, like log of a negative.
                out = np.where(out.imag == 0, out.real, np.nan)
            return np.array(np.broadcast_to(out.astype(float), shape))

    return fn


def compile_expression(text: str, variables: Sequence[str] = ("x", "y")) -> CompiledExpression:
    """Check ``text`` against the whitelist and compile it and its gradient to NumPy functions."""
    variables = tuple(variables)
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

    symbols = {v: sp.Symbol(v, real=True) for v in variables}
    expr = _Builder(symbols).build(tree.body)
    if not _finite_numbers(expr):
        raise ExpressionError("undefined")
    if not expr.free_symbols and expr.is_extended_real is False:
        raise ExpressionError("not_real")
    args = [symbols[v] for v in variables]
    try:
        fn = _vectorized(sp.lambdify(args, expr, modules="numpy"))
    except (
        sp.PrecisionExhausted
    ):  # a constant such as floor(sin(10**299)*10**250) sympy can't round
        raise ExpressionError("too_large") from None
    smooth = expr.replace(sp.Max, _fold_max).replace(sp.Min, _fold_min)
    partials = [_derivative(smooth, s) for s in args]
    grad = None
    if all(d is not None for d in partials):
        raw_partials = [_vectorized(sp.lambdify(args, d, modules="numpy")) for d in partials]

        def grad(*arrays):
            return tuple(p(*arrays) for p in raw_partials)

    return CompiledExpression(fn, grad, typed, sp.latex(expr), variables)


def nonfinite_fraction(values: np.ndarray) -> float:
    """Share of entries that are NaN or ±inf, e.g. grid points where a formula is undefined."""
    values = np.asarray(values)
    return float(np.mean(~np.isfinite(values))) if values.size else 0.0
