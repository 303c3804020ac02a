"""Per-cell data flow: what each cell defines, reads, deletes and mutates.

One scoped visitor per cell (marimo's care with scopes) plus in-place mutation from syntax (subscript and
attribute stores, augmented assignment), a table of known mutating methods (``append``, ``fit``, ...),
``inplace=True``, and a conservative ``may_mutate`` set for names handed to other calls. Function bodies
are late-bound: the module-level names a function reads are recorded on the function and resolved where
it is called (or passed as a callback), as Python would.

Everything a rule needs about names is computed here once; rules never walk the tree for names.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from nbhygiene.source import SCRATCH_FUNCTION, MagicUse, ParsedCell, ipython_call, magic_output_names

IPYTHON_NAMES = frozenset(
    {
        "display",
        "get_ipython",
        "In",
        "Out",
        "_",
        "__",
        "___",
        "_i",
        "_ii",
        "_iii",
        "_ih",
        "_oh",
        "_dh",
        "exit",
        "quit",
        "_exit_code",
        "__builtins__",
        "__builtin__",
        "__name__",
        "__doc__",
        "__spec__",
        "__loader__",
        "__package__",
        "__IPYTHON__",
    }
)
_NUMBERED_HISTORY = re.compile(r"^_(?:i|ii|iii|i?\d+)$|^_i\d+$")
BUILTIN_NAMES = frozenset(dir(builtins)) | IPYTHON_NAMES


def is_builtin(name: str) -> bool:
    return name in BUILTIN_NAMES or bool(_NUMBERED_HISTORY.match(name))


# Methods that change their receiver in place (lists, dicts, sets, deques, numpy, scikit-learn).
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "clear",
        "sort",
        "reverse",
        "update",
        "setdefault",
        "popitem",
        "add",
        "discard",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
        "appendleft",
        "extendleft",
        "popleft",
        "rotate",
        "fill",
        "resize",
        "itemset",
        "put",
        "setflags",
        "fit",
        "partial_fit",
        "fit_transform",
        "fit_predict",
        "fit_resample",
        "set_params",
        "set_output",
        "__setitem__",
        "__delitem__",
    }
)
# Of those, the ones whose effect compounds when a cell runs twice (append twice, pop twice, ...).
NON_IDEMPOTENT_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "pop",
        "popitem",
        "remove",
        "appendleft",
        "extendleft",
        "popleft",
        "partial_fit",
    }
)
# With ``inplace=True``, these fail or compound on a second run (drop: KeyError; reset_index: a second
# index column; set_index: KeyError).
NON_IDEMPOTENT_INPLACE = frozenset({"drop", "reset_index", "set_index", "insert", "pop"})
# Functions that mutate their first argument.
ARGUMENT_MUTATORS = frozenset(
    {
        "shuffle",
        "heappush",
        "heappop",
        "heapify",
        "heapreplace",
        "copyto",
        "fill_diagonal",
        "place",
        "setattr",
        "delattr",
    }
)
# ``x = f(x)`` with these changes the value again on every run.
_COMPOUNDING_FUNCTIONS = frozenset(
    {
        "log",
        "log1p",
        "log2",
        "log10",
        "exp",
        "expm1",
        "sqrt",
        "square",
        "power",
        "append",
        "concatenate",
        "vstack",
        "hstack",
        "column_stack",
        "row_stack",
        "concat",
        "cumsum",
        "cumprod",
        "diff",
        "insert",
        "delete",
        "roll",
    }
)
_COMPOUNDING_METHODS = frozenset(
    {"drop", "append", "insert", "cumsum", "cumprod", "diff", "shift", "pct_change"}
)
_RETURNS_NONE_ON_LISTS = frozenset({"append", "extend", "insert", "remove"})
_PURE_BUILTIN_CALLS = frozenset(
    {
        "print",
        "len",
        "repr",
        "str",
        "int",
        "float",
        "bool",
        "type",
        "isinstance",
        "id",
        "hash",
        "range",
        "display",
    }
)
_EXPANSION_BRACES = re.compile(r"(?<!\{)\{([^{}\n]+)\}(?!\})")
_EXPANSION_DOLLAR = re.compile(r"(?<!\$)\$\{?([A-Za-z_]\w*)")


@dataclass(frozen=True, slots=True)
class NameRef:
    name: str
    line: int
    column: int  # 1-based
    end_line: int
    end_column: int  # 1-based, exclusive


def _ref(name: str, node: ast.AST) -> NameRef:
    line = getattr(node, "lineno", 1) or 1
    col = (getattr(node, "col_offset", 0) or 0) + 1
    end_line = getattr(node, "end_lineno", None) or line
    end_col = (getattr(node, "end_col_offset", None) or (col - 1 + len(name))) + 1
    return NameRef(name, line, col, end_line, end_col)


@dataclass(slots=True)
class FunctionFacts:
    """What a function (or class, with its methods) does to module-level names when it runs."""

    name: str
    line: int
    is_class: bool = False
    params: tuple[str, ...] = ()
    global_reads: dict[str, NameRef] = field(default_factory=dict)
    global_writes: dict[str, NameRef] = field(default_factory=dict)
    global_mutations: dict[str, NameRef] = field(default_factory=dict)
    calls: set[str] = field(default_factory=set)
    uses_dynamic: bool = False


@dataclass(slots=True)
class CellFlow:
    index: int
    defines: dict[str, NameRef] = field(default_factory=dict)
    binding_kinds: dict[str, set[str]] = field(
        default_factory=dict
    )  # name -> {"import","def","class","assign",...}
    reads: list[NameRef] = field(default_factory=list)  # read before this cell binds it (first per name)
    soft_reads: list[NameRef] = field(default_factory=list)  # `{x}`/`$x` in shell and magic lines
    loads: set[str] = field(default_factory=set)  # every module-level name this cell reads when it runs
    deletes: dict[str, NameRef] = field(default_factory=dict)
    mutations: dict[str, NameRef] = field(default_factory=dict)
    may_mutate: dict[str, NameRef] = field(default_factory=dict)
    functions: dict[str, FunctionFacts] = field(default_factory=dict)
    anonymous_functions: list[FunctionFacts] = field(default_factory=list)
    invoked: list[NameRef] = field(default_factory=list)
    non_idempotent: list[tuple[NameRef, str]] = field(default_factory=list)
    star_imports: list[tuple[str, int]] = field(default_factory=list)
    opaque: list[tuple[str, int]] = field(default_factory=list)  # (reason, line): may define any name
    dynamic: list[tuple[str, int]] = field(default_factory=list)  # eval/locals()/globals() reads
    magics: list[MagicUse] = field(default_factory=list)
    calls: list[ast.Call] = field(default_factory=list)  # every call in the cell, in source order
    imports: list[tuple[str, str, int]] = field(default_factory=list)  # (bound name, module path, line)

    def import_only(self, name: str) -> bool:
        kinds = self.binding_kinds.get(name)
        return bool(kinds) and kinds == {"import"}


class _Scope:
    __slots__ = ("bound", "deferred", "facts", "globals", "kind", "locals", "nonlocals", "parent")

    def __init__(
        self,
        kind: str,
        parent: _Scope | None,
        locals_: set[str] | None = None,
        facts: FunctionFacts | None = None,
        deferred: bool = False,
    ) -> None:
        self.kind = kind
        self.parent = parent
        self.locals = locals_ if locals_ is not None else set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.bound: set[str] = set()
        self.facts = facts
        self.deferred = deferred


def _function_bindings(body: Iterable[ast.AST]) -> tuple[set[str], set[str], set[str]]:
    """Names a function body binds (its locals), and its global and nonlocal declarations."""
    bound: set[str] = set()
    globals_: set[str] = set()
    nonlocals: set[str] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                bound.add(node.id)
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack.extend(node.decorator_list)
            if not isinstance(node, ast.ClassDef):
                stack.extend(node.args.defaults)
                stack.extend(d for d in node.args.kw_defaults if d is not None)
            else:
                stack.extend(node.bases)
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                    bound.add(sub.target.id)
            stack.append(node.generators[0].iter)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    bound.add((alias.asname or alias.name).split(".")[0])
            continue
        if isinstance(node, ast.Global):
            globals_.update(node.names)
            continue
        if isinstance(node, ast.Nonlocal):
            nonlocals.update(node.names)
            continue
        if (
            (isinstance(node, ast.ExceptHandler) and node.name)
            or (isinstance(node, ast.MatchAs) and node.name)
            or (isinstance(node, ast.MatchStar) and node.name)
        ):
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return bound - globals_ - nonlocals, globals_, nonlocals


def _params(args: ast.arguments) -> list[str]:
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if args.vararg:
        names.append(args.vararg.arg)
    if args.kwarg:
        names.append(args.kwarg.arg)
    return names


def root_name(node: ast.AST) -> ast.Name | None:
    """The name at the root of ``a.b[c].d`` (through calls too: ``a.b().c``)."""
    while True:
        if isinstance(node, ast.Name):
            return node
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def _has_true_keyword(call: ast.Call, keyword: str) -> bool:
    return any(
        kw.arg == keyword and isinstance(kw.value, ast.Constant) and kw.value.value is True
        for kw in call.keywords
    )


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_operand(node: ast.AST, name: str) -> bool:
    """``name`` is an arithmetic operand of ``node`` (``x + 1``, ``-x``, ``2 * (x - m)``)."""
    if isinstance(node, ast.Name):
        return node.id == name
    if isinstance(node, ast.BinOp):
        return _is_operand(node.left, name) or _is_operand(node.right, name)
    if isinstance(node, ast.UnaryOp):
        return _is_operand(node.operand, name)
    return False


def _mentions(node: ast.AST, name: str) -> bool:
    if isinstance(node, ast.Name):
        return node.id == name
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(_mentions(e, name) for e in node.elts)
    if isinstance(node, ast.Starred):
        return _mentions(node.value, name)
    return False


def _self_derived(value: ast.AST, name: str) -> str | None:
    """Why ``name = value`` gives a different result each time the cell runs, or None."""
    if isinstance(value, (ast.BinOp, ast.UnaryOp)) and _is_operand(value, name):
        return f"`{name}` is computed from its own previous value"
    if isinstance(value, ast.Call):
        func = value.func
        called = _call_name(value)
        if called in _COMPOUNDING_FUNCTIONS and any(_mentions(a, name) for a in value.args):
            return f"`{name} = {called}({name}, ...)` compounds each time the cell runs"
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == name
            and func.attr in _COMPOUNDING_METHODS
        ):
            return f"`{name} = {name}.{func.attr}(...)` compounds or fails when the cell runs again"
    if isinstance(value, (ast.List, ast.Tuple)) and any(
        isinstance(e, ast.Starred) and _mentions(e.value, name) for e in value.elts
    ):
        return f"`{name}` is extended with its own previous value"
    if (
        isinstance(value, ast.Attribute)
        and value.attr == "T"
        and isinstance(value.value, ast.Name)
        and value.value.id == name
    ):
        return f"`{name} = {name}.T` transposes again on every run"
    if isinstance(value, ast.Subscript):
        base = value.value
        if isinstance(base, ast.Attribute) and base.attr in ("iloc", "loc"):
            base = base.value
        if isinstance(base, ast.Name) and base.id == name and _drops_edge(value.slice):
            return f"`{name}` is sliced from its own previous value and shrinks on every run"
    return None


def _drops_edge(node: ast.AST) -> bool:
    slices = node.elts if isinstance(node, ast.Tuple) else [node]
    for part in slices:
        if isinstance(part, ast.Slice):
            if part.lower is not None and not (
                isinstance(part.lower, ast.Constant) and part.lower.value in (0, None)
            ):
                return True
            upper = part.upper
            if isinstance(upper, ast.UnaryOp) and isinstance(upper.op, ast.USub):
                return True
    return False


_SKIPPED_FIELDS = frozenset({"ctx", "op", "ops", "type_comment", "kind", "type_ignores"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        fields = tuple(f for f in getattr(cls, "_fields", ()) if f not in _SKIPPED_FIELDS)
        _CHILD_FIELDS[cls] = fields
    return fields


class CellVisitor(ast.NodeVisitor):
    """Collects a :class:`CellFlow` in one pass over a cell's AST.

    ``visit``/``generic_visit`` are ast.NodeVisitor's, made cheaper: one method lookup per node class
    and no descent into context and operator nodes (this visitor is the hot path of a cold check).
    """

    _methods: dict[type, str] = {}

    def visit(self, node: ast.AST) -> None:
        cls = node.__class__
        name = self._methods.get(cls)
        if name is None:
            name = "visit_" + cls.__name__
            if not hasattr(self, name):
                name = "generic_visit"
            self._methods[cls] = name
        getattr(self, name)(node)

    def generic_visit(self, node: ast.AST) -> None:
        for field_name in _child_fields(node.__class__):
            value = getattr(node, field_name, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_Constant(self, node: ast.Constant) -> None:
        return None

    def __init__(self, index: int) -> None:
        self.flow = CellFlow(index)
        self.module = _Scope("module", None)
        self.scope = self.module
        self._read_names: set[str] = set()
        self._lambda_as_argument: set[int] = set()
        self._assigned_calls: set[int] = set()  # calls whose result is assigned (`new = res.append(obs)`)

    # -- resolution -------------------------------------------------------------------------------
    def _resolve(self, name: str) -> _Scope | None:
        """The function-like scope that owns ``name``, or None when it is module-level."""
        scope: _Scope | None = self.scope
        first = True
        while scope is not None and scope.kind != "module":
            if scope.kind == "class":
                if first and name in scope.bound:
                    return scope
            elif name in scope.globals:
                return None
            elif name in scope.locals or name in scope.nonlocals:
                return scope
            first = False
            scope = scope.parent
        return None

    def _facts(self) -> FunctionFacts | None:
        scope: _Scope | None = self.scope
        while scope is not None:
            if scope.deferred and scope.facts is not None:
                return scope.facts
            scope = scope.parent
        return None

    def _deferred(self) -> bool:
        scope: _Scope | None = self.scope
        while scope is not None:
            if scope.deferred:
                return True
            scope = scope.parent
        return False

    def _load(self, name: str, node: ast.AST) -> None:
        if self._resolve(name) is not None:
            return
        if self._deferred():
            facts = self._facts()
            if facts is not None and name not in facts.global_reads:
                facts.global_reads[name] = _ref(name, node)
            return
        self.flow.loads.add(name)
        if name not in self.module.bound and name not in self._read_names:
            self._read_names.add(name)
            self.flow.reads.append(_ref(name, node))

    def _bind(self, name: str, node: ast.AST, kind: str) -> None:
        scope = self.scope
        if scope.kind == "class":
            scope.bound.add(name)
            return
        if scope.kind != "module":
            if name in scope.globals:
                facts = self._facts()
                if facts is not None and name not in facts.global_writes:
                    facts.global_writes[name] = _ref(name, node)
            return
        self.module.bound.add(name)
        if name not in self.flow.defines:
            self.flow.defines[name] = _ref(name, node)
        self.flow.binding_kinds.setdefault(name, set()).add(kind)

    def _unbind(self, name: str, node: ast.AST) -> None:
        if self.scope.kind != "module":
            return
        self.module.bound.discard(name)
        if name not in self.flow.deletes:
            self.flow.deletes[name] = _ref(name, node)

    def _mutate(self, target: ast.AST, reason: str) -> ast.Name | None:
        root = root_name(target)
        if root is None or self._resolve(root.id) is not None:
            return None
        if self._deferred():
            facts = self._facts()
            if facts is not None and root.id not in facts.global_mutations:
                facts.global_mutations[root.id] = _ref(root.id, root)
            return None
        if root.id not in self.flow.mutations:
            self.flow.mutations[root.id] = _ref(root.id, root)
        return root

    def _from_outside(self, name: str) -> bool:
        return self.scope is self.module and name not in self.module.bound

    def _non_idempotent(self, node: ast.AST, name: str, why: str) -> None:
        self.flow.non_idempotent.append((_ref(name, node), why))

    # -- statements -------------------------------------------------------------------------------
    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._visit_arguments(node.args)
        if node.returns is not None and self.scope.kind == "module":
            self.visit(node.returns)
        self._bind(node.name, node, "def")
        params = _params(node.args)
        locals_, globals_, nonlocals = _function_bindings(node.body)
        facts = self._new_facts(node.name, node, params)
        scope = _Scope("function", self.scope, locals_ | set(params), facts, deferred=True)
        scope.globals, scope.nonlocals = globals_, nonlocals
        self._in_scope(scope, node.body)

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _new_facts(
        self, name: str, node: ast.AST, params: list[str], is_class: bool = False
    ) -> FunctionFacts | None:
        if self._deferred():
            return self._facts()  # nested: the outer function carries what its inner functions do
        facts = FunctionFacts(name, getattr(node, "lineno", 1), is_class=is_class, params=tuple(params))
        # Anonymous lambdas are not keyed by name: a second `<lambda>` would replace the first.
        if name == SCRATCH_FUNCTION or (self.scope is self.module and name != "<lambda>"):
            self.flow.functions[name] = facts
        else:
            self.flow.anonymous_functions.append(facts)
        return facts

    def _in_scope(self, scope: _Scope, body: Iterable[ast.AST]) -> None:
        saved = self.scope
        self.scope = scope
        try:
            for statement in body:
                self.visit(statement)
        finally:
            self.scope = saved

    def _visit_arguments(self, args: ast.arguments) -> None:
        for default in (*args.defaults, *(d for d in args.kw_defaults if d is not None)):
            self.visit(default)
        if self.scope.kind == "module":
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                if arg is not None and arg.annotation is not None:
                    self.visit(arg.annotation)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        for base in node.bases:
            self.visit(base)
        for keyword in node.keywords:
            self.visit(keyword.value)
        facts = self._new_facts(node.name, node, [], is_class=True)
        # The class body runs now; its methods run later and report to the class's facts.
        scope = _Scope("class", self.scope, facts=facts, deferred=False)
        saved = self.scope
        self.scope = scope
        try:
            for statement in node.body:
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self._visit_method(statement, facts)
                else:
                    self.visit(statement)
        finally:
            self.scope = saved
        self._bind(node.name, node, "class")

    def _visit_method(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, facts: FunctionFacts | None
    ) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._visit_arguments(node.args)
        self.scope.bound.add(node.name)
        params = _params(node.args)
        locals_, globals_, nonlocals = _function_bindings(node.body)
        scope = _Scope("function", self.scope, locals_ | set(params), facts, deferred=True)
        scope.globals, scope.nonlocals = globals_, nonlocals
        self._in_scope(scope, node.body)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_arguments(node.args)
        params = _params(node.args)
        immediate = id(node) in self._lambda_as_argument
        facts = None if immediate else self._new_facts("<lambda>", node, params)
        scope = _Scope("lambda", self.scope, set(params), facts, deferred=not immediate)
        saved = self.scope
        self.scope = scope
        try:
            self.visit(node.body)
        finally:
            self.scope = saved

    def visit_Assign(self, node: ast.Assign) -> None:
        if (
            self.scope is self.module
            and isinstance(node.value, ast.Lambda)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            self._visit_named_lambda(node.targets[0], node.value)
            return
        if isinstance(node.value, ast.Call):
            self._assigned_calls.add(id(node.value))
        self.visit(node.value)
        for target in node.targets:
            if self.scope is self.module:
                self._check_self_assignment(target, node.value, node)
            self._store(target, "assign")

    def _visit_named_lambda(self, target: ast.Name, value: ast.Lambda) -> None:
        self._visit_arguments(value.args)
        params = _params(value.args)
        facts = FunctionFacts(target.id, value.lineno, params=tuple(params))
        self.flow.functions[target.id] = facts
        scope = _Scope("lambda", self.scope, set(params), facts, deferred=True)
        saved = self.scope
        self.scope = scope
        try:
            self.visit(value.body)
        finally:
            self.scope = saved
        self._bind(target.id, target, "def")

    def _check_self_assignment(self, target: ast.AST, value: ast.AST, node: ast.AST) -> None:
        if isinstance(target, ast.Name) and self._from_outside(target.id):
            why = _self_derived(value, target.id)
            if why:
                self._non_idempotent(target, target.id, why)
        elif isinstance(target, (ast.Subscript, ast.Attribute)):
            root = root_name(target)
            if root is None or not self._from_outside(root.id):
                return
            dumped = ast.dump(target, annotate_fields=False).replace("Store()", "Load()")
            for sub in ast.walk(value):
                if isinstance(sub, (ast.BinOp, ast.Call)):
                    operands = [sub.left, sub.right] if isinstance(sub, ast.BinOp) else list(sub.args)
                    if isinstance(sub, ast.Call) and _call_name(sub) not in _COMPOUNDING_FUNCTIONS:
                        continue
                    if any(ast.dump(o, annotate_fields=False) == dumped for o in operands):
                        self._non_idempotent(
                            target, root.id, f"`{ast.unparse(target)}` is computed from itself"
                        )
                        return

    def _store(self, target: ast.AST, kind: str) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, target, kind)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._store(element, kind)
        elif isinstance(target, ast.Starred):
            self._store(target.value, kind)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            self.visit(target.value)
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
                value = target.value
                if (
                    isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Name)
                    and value.func.id == "globals"
                ):
                    self._opaque("globals() write", target)  # `globals()["x"] = 1` defines `x`
            self._mutate(target, "store")
        else:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        target = node.target
        if isinstance(target, ast.Name):
            outside = self._from_outside(target.id)
            self._load(target.id, target)
            if outside:
                self._non_idempotent(
                    target, target.id, f"`{target.id} {_op(node.op)}= ...` changes it on every run"
                )
            self._mutate(target, "augmented")
            self._bind(target.id, target, "assign")
        else:
            root = root_name(target)
            self._store(target, "assign")
            if root is not None and self._from_outside(root.id) and self._resolve(root.id) is None:
                self._non_idempotent(
                    target, root.id, f"`{ast.unparse(target)} {_op(node.op)}= ...` changes it on every run"
                )

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if self.scope.kind in ("module", "class"):
            self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self._store(node.target, "assign")
        elif not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def _visit_for(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._store(node.target, "assign")
        for statement in (*node.body, *node.orelse):
            self.visit(statement)

    visit_For = _visit_for
    visit_AsyncFor = _visit_for

    def _visit_with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._store(item.optional_vars, "assign")
        for statement in node.body:
            self.visit(statement)

    visit_With = _visit_with
    visit_AsyncWith = _visit_with

    def _visit_try(self, node: ast.Try) -> None:
        for statement in node.body:
            self.visit(statement)
        for handler in node.handlers:
            if handler.type is not None:
                self.visit(handler.type)
            bound_before = handler.name in self.module.bound
            if handler.name:
                self._bind(handler.name, handler, "except")
            for statement in handler.body:
                self.visit(statement)
            if handler.name and self.scope is self.module:
                # Python deletes the `as` name when the handler ends; a value bound before the `try`
                # survives when the handler does not run, so that one stays bound.
                if not bound_before:
                    self.module.bound.discard(handler.name)
                if self.flow.binding_kinds.get(handler.name) == {"except"}:
                    self.flow.defines.pop(handler.name, None)
                    self.flow.binding_kinds.pop(handler.name, None)
        for statement in (*node.orelse, *node.finalbody):
            self.visit(statement)

    visit_Try = _visit_try
    visit_TryStar = _visit_try  # type: ignore[assignment]

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            bound = alias.asname or alias.name.split(".")[0]
            self._bind(bound, node, "import")
            if self.scope is self.module:
                self.flow.imports.append(
                    (bound, alias.name if alias.asname else alias.name.split(".")[0], node.lineno)
                )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.flow.star_imports.append((module, node.lineno))
                continue
            if module == "__future__":
                continue
            bound = alias.asname or alias.name
            self._bind(bound, node, "import")
            if self.scope is self.module:
                self.flow.imports.append((bound, f"{module}.{alias.name}", node.lineno))

    def visit_Global(self, node: ast.Global) -> None:
        return None

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        return None

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                outside = self._from_outside(target.id)
                self._load(target.id, target)
                if outside:
                    self._non_idempotent(
                        target, target.id, f"`del {target.id}` fails when the cell runs again"
                    )
                self._unbind(target.id, target)
                if self.scope.kind != "module" and target.id in self.scope.globals:
                    facts = self._facts()
                    if facts is not None:
                        facts.global_writes.setdefault(target.id, _ref(target.id, target))
            elif isinstance(target, (ast.Subscript, ast.Attribute)):
                self.visit(target.value)
                if isinstance(target, ast.Subscript):
                    self.visit(target.slice)
                root = self._mutate(target, "delete")
                if root is not None and self._from_outside(root.id):
                    self._non_idempotent(
                        target, root.id, f"`del {ast.unparse(target)}` fails when the cell runs again"
                    )
            else:
                self.visit(target)

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        for case in node.cases:
            self._visit_pattern(case.pattern)
            if case.guard is not None:
                self.visit(case.guard)
            for statement in case.body:
                self.visit(statement)

    def _visit_pattern(self, pattern: ast.AST) -> None:
        for sub in ast.walk(pattern):
            if isinstance(sub, (ast.MatchAs, ast.MatchStar)) and sub.name:
                self._bind(sub.name, sub, "assign")
            elif isinstance(sub, ast.MatchMapping):
                for key in sub.keys:
                    self.visit(key)
                if sub.rest:
                    self._bind(sub.rest, sub, "assign")
            elif isinstance(sub, ast.MatchValue):
                self.visit(sub.value)
            elif isinstance(sub, ast.MatchClass):
                self.visit(sub.cls)

    # -- expressions ------------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._load(node.id, node)
        elif isinstance(node.ctx, ast.Store):
            self._bind(node.id, node, "assign")
        else:
            self._unbind(node.id, node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        saved = self.scope
        while self.scope.kind == "comprehension" and self.scope.parent is not None:
            self.scope = self.scope.parent
        try:
            self._store(node.target, "assign")
        finally:
            self.scope = saved

    def _visit_comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> None:
        generators = node.generators
        self.visit(generators[0].iter)
        targets: set[str] = set()
        for generator in generators:
            for sub in ast.walk(generator.target):
                if isinstance(sub, ast.Name):
                    targets.add(sub.id)
        scope = _Scope("comprehension", self.scope, targets, facts=self._facts(), deferred=False)
        saved = self.scope
        self.scope = scope
        try:
            for i, generator in enumerate(generators):
                if i:
                    self.visit(generator.iter)
                for condition in generator.ifs:
                    self.visit(condition)
            if isinstance(node, ast.DictComp):
                self.visit(node.key)
                self.visit(node.value)
            else:
                self.visit(node.elt)
        finally:
            self.scope = saved

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
    visit_DictComp = _visit_comprehension

    def visit_Call(self, node: ast.Call) -> None:
        self.flow.calls.append(node)
        for argument in (*node.args, *(kw.value for kw in node.keywords)):
            if isinstance(argument, ast.Lambda):
                self._lambda_as_argument.add(id(argument))
        magic = ipython_call(node)
        if magic is not None:
            self._visit_ipython_call(node, magic[0], magic[1])
        self.generic_visit(node)
        func = node.func
        called = _call_name(node)
        immediate = not self._deferred()
        if isinstance(func, ast.Name):
            if func.id in ("exec", "execfile"):
                self._opaque(f"{func.id}()", node)
            elif func.id in ("eval", "locals", "vars", "globals"):
                self.flow.dynamic.append((f"{func.id}()", node.lineno))
            if immediate and self._resolve(func.id) is None:
                self.flow.invoked.append(_ref(func.id, func))
            elif not immediate:
                facts = self._facts()
                if facts is not None and self._resolve(func.id) is None:
                    facts.calls.add(func.id)
        # globals()[...] = / globals().update(...)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            inner = func.value.func
            if (
                isinstance(inner, ast.Name)
                and inner.id == "globals"
                and func.attr in ("update", "__setitem__", "setdefault")
            ):
                self._opaque("globals() write", node)
        if immediate:
            for argument in (*node.args, *(kw.value for kw in node.keywords)):
                if isinstance(argument, ast.Name) and self._resolve(argument.id) is None:
                    self.flow.invoked.append(_ref(argument.id, argument))
        self._call_mutations(node, called)

    def _call_mutations(self, node: ast.Call, called: str | None) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            inplace = _has_true_keyword(node, "inplace")
            if func.attr in _RETURNS_NONE_ON_LISTS and id(node) in self._assigned_calls and not inplace:
                # list.append returns None, so nobody assigns its result: `res2 = res.append(obs)` is a
                # method that returns a new object (statsmodels results, pandas < 2), not a mutation.
                pass
            elif func.attr in MUTATING_METHODS or inplace:
                root = self._mutate(func.value, func.attr)
                if root is not None and self._from_outside(root.id):
                    if func.attr in NON_IDEMPOTENT_METHODS and not self._is_module_like(func.value):
                        self._non_idempotent(
                            func, root.id, f"`{ast.unparse(func)}(...)` compounds on every run"
                        )
                    elif inplace and func.attr in NON_IDEMPOTENT_INPLACE:
                        self._non_idempotent(
                            func,
                            root.id,
                            f"`{ast.unparse(func)}(..., inplace=True)` fails or compounds on a second run",
                        )
        if called in ARGUMENT_MUTATORS and node.args:
            self._mutate(node.args[0], called)
        if called not in _PURE_BUILTIN_CALLS and not self._deferred():
            for argument in (*node.args, *(kw.value for kw in node.keywords)):
                if isinstance(argument, ast.Name) and self._resolve(argument.id) is None:
                    self.flow.may_mutate.setdefault(argument.id, _ref(argument.id, argument))

    @staticmethod
    def _is_module_like(node: ast.AST) -> bool:
        # `sys.path.append(...)`, `os.environ.pop(...)`: state of an imported module, not notebook data.
        return (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("sys", "os")
        )

    def _opaque(self, reason: str, node: ast.AST) -> None:
        if self._deferred():
            facts = self._facts()
            if facts is not None:
                facts.uses_dynamic = True
        self.flow.opaque.append((reason, getattr(node, "lineno", 1)))

    def _visit_ipython_call(self, node: ast.Call, method: str, args: list[ast.expr]) -> None:
        def text(i: int) -> str:
            value = args[i] if len(args) > i else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return value.value
            return ""

        line = node.lineno
        column = node.col_offset + 1
        if method == "run_line_magic":
            name = text(0)
            argument = getattr(node, "_nbhygiene_args", None) or text(1)
            self.flow.magics.append(MagicUse("line", name, argument, line, column))
            self._magic_bindings(name, argument, node)
            self._soft_reads(argument, node)
        elif method in ("system", "getoutput"):
            command = text(0)
            word = command.strip().split(" ", 1)[0] if command.strip() else ""
            self.flow.magics.append(
                MagicUse("shell", word, command, line, column, assigned=method == "getoutput")
            )
            self._soft_reads(command, node)
        elif method == "run_cell_magic":
            self.flow.magics.append(MagicUse("cell", text(0), text(1), line, column))

    def _magic_bindings(self, name: str, argument: str, node: ast.AST) -> None:
        if name == "store" and argument.split()[:1] == ["-r"]:
            names = [n for n in argument.split()[1:] if n.isidentifier()]
            if names:
                for stored in names:
                    self._bind(stored, node, "magic")
            else:
                self._opaque("%store -r", node)
        elif name == "run":
            self._opaque("%run", node)
        elif name == "pylab":
            self._opaque("%pylab", node)
        else:
            for bound in magic_output_names(name, argument):
                self._bind(bound, node, "magic")

    def _soft_reads(self, text: str, node: ast.AST) -> None:
        if "{" not in text and "$" not in text:
            return
        names: list[str] = []
        for match in _EXPANSION_BRACES.finditer(text):
            try:
                expr = ast.parse(match.group(1).strip(), mode="eval")
            except (SyntaxError, ValueError):
                continue
            names.extend(n.id for n in ast.walk(expr) if isinstance(n, ast.Name))
        names.extend(m.group(1) for m in _EXPANSION_DOLLAR.finditer(text))
        for name in names:
            if self._resolve(name) is None and not self._deferred():
                self.flow.soft_reads.append(_ref(name, node))
                self.flow.loads.add(name)


def _op(op: ast.operator) -> str:
    return {
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
        ast.FloorDiv: "//",
        ast.Mod: "%",
        ast.Pow: "**",
        ast.MatMult: "@",
        ast.BitOr: "|",
        ast.BitAnd: "&",
        ast.BitXor: "^",
        ast.LShift: "<<",
        ast.RShift: ">>",
    }.get(type(op), "?")


def cell_flow(parsed: ParsedCell) -> CellFlow:
    """The data flow of one parsed cell (empty for cells that are not Python)."""
    visitor = CellVisitor(parsed.cell.index)
    flow = visitor.flow
    flow.magics.extend(parsed.magics)
    for name, line in parsed.magic_bindings:
        flow.defines.setdefault(name, NameRef(name, line, 1, line, 1 + len(name)))
        flow.binding_kinds.setdefault(name, set()).add("magic")
        visitor.module.bound.add(name)
    flow.opaque.extend(parsed.opaque_bindings)
    if parsed.tree is not None:
        try:
            visitor.visit(parsed.tree)
        except RecursionError:
            flow.opaque.append(("code too deeply nested to analyse", 1))
    scratch = flow.functions.pop(SCRATCH_FUNCTION, None)
    if scratch is not None:
        flow.defines.pop(SCRATCH_FUNCTION, None)
        flow.binding_kinds.pop(SCRATCH_FUNCTION, None)
        flow.invoked = [r for r in flow.invoked if r.name != SCRATCH_FUNCTION]
        flow.loads.discard(SCRATCH_FUNCTION)
        for name, ref in scratch.global_mutations.items():  # `%timeit lst.append(1)` mutates `lst`
            flow.mutations.setdefault(name, ref)
        for name, ref in scratch.global_reads.items():
            if name not in visitor._read_names and name not in flow.defines:
                flow.reads.append(ref)
            flow.loads.add(name)
    return flow


def iter_nodes(tree: ast.AST | None) -> Iterator[ast.AST]:
    if tree is not None:
        yield from ast.walk(tree)


def nested_statements(body: list[ast.stmt], into_definitions: bool = True) -> Iterator[ast.stmt]:
    """Every statement of ``body`` in source order, nested blocks (if/for/while/with/try/match)
    included, without descending into expressions; function and class bodies only when
    ``into_definitions`` (they do not run when the cell runs)."""
    stack = list(reversed(body))
    while stack:
        statement = stack.pop()
        yield statement
        if not into_definitions and isinstance(
            statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ):
            continue
        nested: list[ast.stmt] = []
        for field_name in ("body", "orelse", "finalbody"):
            inner = getattr(statement, field_name, None)
            if isinstance(inner, list):
                nested.extend(inner)
        for handler in getattr(statement, "handlers", ()):
            nested.extend(handler.body)
        for case in getattr(statement, "cases", ()):
            nested.extend(case.body)
        stack.extend(reversed(nested))
