"""Mutation sites of the bank's shared code, found in its syntax tree (libclang),
and the mutant schemata that compile every one of them into one build.

A site is one place and one operator ("< becomes <=", "the call removed",
...). Every site gets an id (1..N, in file and offset order); the rewritten copy
of a source wraps each site's code as

    (::dst_mutation::on(ID) ? MUTATED : ORIGINAL)

so one binary holds every mutant and the environment variable DST_MUTANT
chooses which one is live (0: none, the bank as it ships). Sites nest: the
original and mutated texts of an outer site carry the schemata of the sites
inside it. The sources the server ships are never touched; the copy lives in a
build directory.

Left out, on purpose: the conditions of BANK_ASSERT (a mutated assertion
proves nothing about the oracle), calls to the logger and everything in their
arguments (log lines are not behaviour), coverage marks, and the planted-bug
switch (instrumentation, not behaviour)."""

import bisect
import os
import re
import shlex
import sys

try:
    import clang.cindex as ci
except ImportError:  # pyenv's Python beside Debian's: the bindings are pure Python over ctypes.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import clang.cindex as ci
    except ImportError:
        raise SystemExit("mutation: libclang's Python bindings are missing: apt-get install python3-clang-14 "
                         "(./dev setup installs it)")

LIBCLANG_CANDIDATES = ["/usr/lib/x86_64-linux-gnu/libclang-14.so.1", "/usr/lib/llvm-14/lib/libclang.so.1",
                       "/usr/lib/aarch64-linux-gnu/libclang-14.so.1"]
for _candidate in LIBCLANG_CANDIDATES:
    if os.path.exists(_candidate):
        ci.Config.set_library_file(_candidate)
        break

K = ci.CursorKind


def _kind(cursor):
    """The cursor's kind; None for a kind these bindings do not name (newer
    statements such as OpenMP's), which no operator looks for."""
    try:
        return ci.CursorKind.from_id(cursor._kind_id)
    except ValueError:
        return None


ci.Cursor.kind = property(_kind)

# The sources whose code is mutated, relative to the project's root.
EXCLUDED_SOURCES = {"common/src/coverage.cpp": "coverage marks: instrumentation, not behaviour",
                    "common/src/planted_bugs.cpp": "the zoo's switch: instrumentation, not behaviour",
                    "common/include/bank/coverage.hpp": "coverage marks: instrumentation, not behaviour",
                    "common/include/bank/planted_bugs.hpp": "the zoo's switch: instrumentation, not behaviour"}
SKIPPED_MACROS = {"BANK_ASSERT", "BANK_ASSERT_MSG", "BANK_MARK"}

# Operators, in the order a site of each nests inside another of the same
# range (an outer one first).
OPERATORS = {
    "early_return": "an early return at the top of the function",
    "statements_swapped": "two adjacent statements swapped",
    "statement_removed": "a call or assignment statement removed",
    "result_ignored": "a call's result ignored (the assignment dropped, the call kept)",
    "condition_negated": "a condition negated",
    "condition_true": "a condition replaced by true",
    "condition_false": "a condition replaced by false",
    "logical_swapped": "&& and || swapped",
    "relational_swapped": "a relational or equality operator swapped",
    "constant_plus_one": "a constant moved up by one",
    "constant_minus_one": "a constant moved down by one",
    "boolean_flipped": "a boolean constant flipped",
}
OPERATOR_RANK = {name: rank for rank, name in enumerate(OPERATORS)}

SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
LOGICAL = {"&&": "||", "||": "&&"}
ASSIGNMENTS = {"=", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>="}


class Site:
    """One mutant: where (file, byte range, line), what (operator), and how to
    render its original and mutated text from the rendered text of its
    segments (sub-ranges that may hold other sites)."""

    def __init__(self, path, start, end, operator, segments, render, function, line, detail):
        self.path = path
        self.start = start
        self.end = end
        self.operator = operator
        self.segments = segments  # [(start, end), ...] inside [start, end)
        self.render = render      # (id, [segment texts]) -> (original text, mutated text)
        self.function = function
        self.line = line
        self.detail = detail
        self.id = 0

    def key(self):
        return (self.path, self.start, self.end, OPERATOR_RANK[self.operator], self.detail)


def on(site_id):
    return f"::dst_mutation::on({site_id})"


class FileText:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.line_starts = [0] + [i + 1 for i, b in enumerate(self.data) if b == 0x0A]

    def line_of(self, offset):
        return bisect.bisect_right(self.line_starts, offset)

    def text(self, start, end):
        return self.data[start:end].decode()


def compile_args(root, compile_commands, source):
    for entry in compile_commands:
        if os.path.realpath(entry["file"]) == os.path.realpath(os.path.join(root, source)):
            words = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
            args, skip = [], False
            for w in words[1:]:
                if skip:
                    skip = False
                    continue
                if w in ("-o", "-c"):
                    skip = True
                    continue
                if w.endswith(".cpp") or w.startswith("-W") or w.startswith("-O") or w == "-g":
                    continue
                args.append(w)
            return args
    raise SystemExit(f"mutation: {source} is not in compile_commands.json; configure the release preset first")


class Finder:
    """Walks one translation unit and collects the sites of the files it mutates."""

    def __init__(self, root, targets):
        self.root = root
        self.targets = targets  # absolute path -> relative path
        self.files = {}
        self.sites = []
        self.blocked = {}  # relative path -> [(start, end)] where nothing is mutated

    def file_of(self, cursor):
        location = cursor.extent.start
        if location.file is None:
            return None
        return self.targets.get(os.path.realpath(location.file.name))

    def text(self, rel):
        if rel not in self.files:
            self.files[rel] = FileText(os.path.join(self.root, rel))
        return self.files[rel]

    def is_blocked(self, rel, start, end):
        return any(s < end and start < e for s, e in self.blocked.get(rel, []))

    def run(self, tu):
        for cursor in tu.cursor.walk_preorder():
            if cursor.kind == K.MACRO_INSTANTIATION and cursor.spelling in SKIPPED_MACROS:
                rel = self.file_of(cursor)
                if rel:
                    self.blocked.setdefault(rel, []).append((cursor.extent.start.offset, cursor.extent.end.offset))
        self.visit(tu.cursor, None, None)

    def visit(self, cursor, function, parent):
        for child in cursor.get_children():
            rel = self.file_of(child)
            if child.kind == K.MACRO_INSTANTIATION or child.kind == K.MACRO_DEFINITION or \
                    child.kind == K.INCLUSION_DIRECTIVE:
                continue
            if rel is None:
                # Not ours (a system or third-party header), but a namespace
                # or class may continue in our files: only descend into those.
                if child.kind in (K.NAMESPACE, K.CLASS_DECL, K.STRUCT_DECL):
                    self.visit(child, function, child)
                continue
            if self.needs_constant(child, rel):
                continue
            if child.kind == K.CASE_STMT:
                label = next(iter(child.get_children()), None)
                if label is not None:
                    self.blocked.setdefault(rel, []).append((label.extent.start.offset, label.extent.end.offset))
            name = function
            if child.kind in (K.FUNCTION_DECL, K.CXX_METHOD, K.CONSTRUCTOR, K.DESTRUCTOR, K.FUNCTION_TEMPLATE):
                parent_name = child.semantic_parent.spelling if child.semantic_parent else ""
                name = f"{parent_name}::{child.spelling}" if child.semantic_parent and \
                    child.semantic_parent.kind in (K.CLASS_DECL, K.STRUCT_DECL) else child.spelling
                self.function_sites(child, rel, name)
            if self.is_logger_call(child):
                continue
            if child.kind == K.LAMBDA_EXPR:
                name = f"{function} (lambda)" if function else "(lambda)"
            self.expression_sites(child, rel, name, cursor)
            self.visit(child, name, child)

    def needs_constant(self, cursor, rel):
        """True for code the compiler must evaluate as a constant (constexpr
        functions and variables, static_assert, enumerators): a switch read
        at run time cannot live there."""
        kind = cursor.kind
        if kind in (K.STATIC_ASSERT, K.ENUM_DECL, K.TEMPLATE_NON_TYPE_PARAMETER):
            return True
        if kind in (K.FUNCTION_DECL, K.CXX_METHOD, K.FUNCTION_TEMPLATE, K.VAR_DECL, K.FIELD_DECL):
            for token in cursor.get_tokens():
                if token.spelling in ("constexpr", "consteval", "constinit"):
                    return True
                if token.spelling in ("{", "=", "(", ";"):
                    break
        return False

    def is_logger_call(self, cursor):
        if cursor.kind != K.CALL_EXPR:
            return False
        ref = cursor.referenced
        if cursor.spelling == "mark":
            return True  # A coverage mark: instrumentation.
        return ref is not None and ref.semantic_parent is not None and ref.semantic_parent.spelling == "Logger"

    def add(self, rel, start, end, operator, segments, render, function, detail=""):
        if start > end or self.is_blocked(rel, start, end):
            return
        text = self.text(rel)
        self.sites.append(Site(rel, start, end, operator, segments, render, function or "(file scope)",
                               text.line_of(start), detail))

    # --- per-function sites ---------------------------------------------------

    def function_sites(self, cursor, rel, name):
        if cursor.kind in (K.CONSTRUCTOR, K.DESTRUCTOR) or not cursor.is_definition():
            return
        body = [c for c in cursor.get_children() if c.kind == K.COMPOUND_STMT]
        if not body:
            return
        text = self.text(rel)
        open_brace = body[0].extent.start.offset
        if text.data[open_brace:open_brace + 1] != b"{":
            return
        result = cursor.result_type.spelling
        if cursor.is_const_method() is not None and "constexpr" in text.text(cursor.extent.start.offset, open_brace):
            return
        returns = {"void": "return;", "bool": None, "Status": "return ::bank::ok_status();",
                   "bank::Status": "return ::bank::ok_status();"}
        at = open_brace + 1
        if result == "bool":
            for value in ("false", "true"):
                self.add(rel, at, at, "early_return", [],
                         lambda i, _s, v=value: ("", f" if ({on(i)}) return {v}; "), name, f"return {value}")
        elif result in returns:
            statement = returns[result]
            self.add(rel, at, at, "early_return", [],
                     lambda i, _s, st=statement: ("", f" if ({on(i)}) {st} "), name, statement)

    # --- expression and statement sites ---------------------------------------

    def expression_sites(self, cursor, rel, function, parent):
        kind = cursor.kind
        start, end = cursor.extent.start.offset, cursor.extent.end.offset
        text = self.text(rel)
        if kind == K.BINARY_OPERATOR:
            self.binary_sites(cursor, rel, function, parent)
        elif kind == K.CALL_EXPR and cursor.spelling in ("operator==", "operator!=", "operator<", "operator<=",
                                                        "operator>", "operator>="):
            args = list(cursor.get_arguments())
            if len(args) == 2:
                self.operator_sites(rel, function, start, end, args[0], args[1], cursor.spelling[len("operator"):])
        elif kind == K.INTEGER_LITERAL:
            literal = text.text(start, end)
            if re.fullmatch(r"[0-9][0-9a-fA-FxX']*[uUlL]*", literal):
                for operator, sign in (("constant_plus_one", "+"), ("constant_minus_one", "-")):
                    self.add(rel, start, end, operator, [(start, end)],
                             lambda i, s, sg=sign: (s[0], f"({s[0]} {sg} 1)"), function, f"{literal} {sign} 1")
        elif kind == K.CXX_BOOL_LITERAL_EXPR:
            literal = text.text(start, end)
            if literal in ("true", "false"):
                flipped = "false" if literal == "true" else "true"
                self.add(rel, start, end, "boolean_flipped", [(start, end)], lambda i, s, f=flipped: (s[0], f),
                         function, f"{literal} -> {flipped}")
        elif kind in (K.IF_STMT, K.WHILE_STMT, K.FOR_STMT):
            self.condition_sites(cursor, rel, function)
        elif kind == K.CONDITIONAL_OPERATOR:
            children = list(cursor.get_children())
            if children:
                c = children[0]
                self.condition_range(rel, function, c.extent.start.offset, c.extent.end.offset)
        elif kind == K.COMPOUND_STMT:
            self.statement_sites(cursor, rel, function)

    def operator_token(self, rel, lhs_end, rhs_start, candidates):
        """The operator between two operands: its (start, end, spelling)."""
        text = self.text(rel).text(lhs_end, rhs_start)
        stripped = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group(0)), text)
        match = re.fullmatch(r"\s*(\)*)\s*(" + "|".join(re.escape(c) for c in candidates) + r")\s*(\(*)\s*",
                             stripped)
        if not match or match.group(1) or match.group(3):
            return None
        return lhs_end + match.start(2), lhs_end + match.end(2), match.group(2)

    def binary_sites(self, cursor, rel, function, parent):
        children = list(cursor.get_children())
        if len(children) != 2:
            return
        lhs, rhs = children
        start, end = cursor.extent.start.offset, cursor.extent.end.offset
        found = self.operator_token(rel, lhs.extent.end.offset, rhs.extent.start.offset,
                                    sorted(set(SWAPS) | set(LOGICAL) | ASSIGNMENTS, key=len, reverse=True))
        if found is None:
            return
        op_start, op_end, op = found
        if lhs.extent.start.offset != start or rhs.extent.end.offset != end:
            return
        if op in SWAPS:
            self.operator_sites(rel, function, start, end, lhs, rhs, op, (op_start, op_end))
        elif op in LOGICAL:
            swapped = LOGICAL[op]
            self.add(rel, start, end, "logical_swapped", [(start, op_start), (op_end, end)],
                     lambda i, s, o=op, w=swapped: (f"{s[0]}{o}{s[1]}", f"({s[0]}{w}{s[1]})"), function,
                     f"{op} -> {swapped}")
        elif op == "=" and parent is not None and parent.kind == K.COMPOUND_STMT and \
                rhs.kind in (K.CALL_EXPR, K.UNEXPOSED_EXPR) and self.is_call(rhs):
            self.add(rel, start, end, "result_ignored", [(start, op_start), (op_end, end)],
                     lambda i, s: (f"{s[0]}={s[1]}", s[1]), function, "assignment dropped")

    def is_call(self, cursor):
        node = cursor
        while node.kind == K.UNEXPOSED_EXPR:
            children = list(node.get_children())
            if len(children) != 1:
                return False
            node = children[0]
        return node.kind == K.CALL_EXPR and not node.spelling.startswith("operator") and node.spelling != ""

    def operator_sites(self, rel, function, start, end, lhs, rhs, op, token=None):
        if token is None:
            found = self.operator_token(rel, lhs.extent.end.offset, rhs.extent.start.offset, [op])
            if found is None:
                return
            token = found[:2]
        if lhs.extent.start.offset != start or rhs.extent.end.offset != end:
            return
        swapped = SWAPS[op]
        self.add(rel, start, end, "relational_swapped", [(start, token[0]), (token[1], end)],
                 lambda i, s, o=op, w=swapped: (f"{s[0]}{o}{s[1]}", f"({s[0]}{w}{s[1]})"), function,
                 f"{op} -> {swapped}")

    def condition_sites(self, cursor, rel, function):
        text = self.text(rel)
        start, end = cursor.extent.start.offset, cursor.extent.end.offset
        body = text.data[start:end]
        keyword = {K.IF_STMT: b"if", K.WHILE_STMT: b"while", K.FOR_STMT: b"for"}[cursor.kind]
        if not body.startswith(keyword):
            return
        at = len(keyword)
        while at < len(body) and body[at:at + 1] in (b" ", b"\t", b"\n"):
            at += 1
        if body[at:at + 1] != b"(":
            return  # "if constexpr" or a macro: nothing to do at run time.
        depth, semicolons, close = 0, [], None
        for i in range(at, len(body)):
            c = body[i:i + 1]
            if c in (b"(", b"[", b"{"):
                depth += 1
            elif c in (b")", b"]", b"}"):
                depth -= 1
                if depth == 0:
                    close = i
                    break
            elif c == b";" and depth == 1:
                semicolons.append(i)
        if close is None:
            return
        if cursor.kind == K.FOR_STMT:
            if len(semicolons) != 2:
                return
            cond_start, cond_end = semicolons[0] + 1, semicolons[1]
        else:
            cond_start = (semicolons[-1] + 1) if semicolons else at + 1
            cond_end = close
        raw = body[cond_start:cond_end]
        lead = len(raw) - len(raw.lstrip())
        trail = len(raw) - len(raw.rstrip())
        cond_start, cond_end = start + cond_start + lead, start + cond_end - trail
        if cond_start >= cond_end:
            return
        for child in cursor.walk_preorder():
            if child.kind in (K.VAR_DECL, K.DECL_STMT) and cond_start <= child.extent.start.offset < cond_end:
                return  # "if (auto x = ...)": a declaration, not a condition to rewrite.
        self.condition_range(rel, function, cond_start, cond_end, loop=cursor.kind != K.IF_STMT)

    def condition_range(self, rel, function, start, end, loop=False):
        seg = [(start, end)]
        self.add(rel, start, end, "condition_negated", seg,
                 lambda i, s: (s[0], f"!({s[0]})"), function, "negated")
        if not loop:  # A loop whose condition is always true never ends: that is a hang, not a finding.
            self.add(rel, start, end, "condition_true", seg, lambda i, s: (s[0], "true"), function, "true")
        self.add(rel, start, end, "condition_false", seg, lambda i, s: (s[0], "false"), function, "false")

    def statement_end(self, rel, cursor):
        """The offset just past the ';' ending an expression statement, or None."""
        data = self.text(rel).data
        at = cursor.extent.end.offset
        while at < len(data) and data[at:at + 1] in (b" ", b"\t"):
            at += 1
        return at + 1 if data[at:at + 1] == b";" else None

    def is_simple_statement(self, cursor):
        if cursor.kind in (K.CALL_EXPR,):
            return cursor.spelling != "" and not self.is_logger_call(cursor)
        if cursor.kind == K.COMPOUND_ASSIGNMENT_OPERATOR:
            return True
        if cursor.kind == K.BINARY_OPERATOR or cursor.kind == K.UNARY_OPERATOR:
            tokens = [t.spelling for t in cursor.get_tokens()]
            if cursor.kind == K.UNARY_OPERATOR:
                return bool(tokens) and (tokens[0] in ("++", "--") or tokens[-1] in ("++", "--"))
            return "=" in tokens
        return False

    def statement_sites(self, compound, rel, function):
        children = list(compound.get_children())
        simple = []
        for child in children:
            if self.file_of(child) != rel or not self.is_simple_statement(child):
                simple.append(None)
                continue
            stop = self.statement_end(rel, child)
            if stop is None:
                simple.append(None)
                continue
            start, end = child.extent.start.offset, child.extent.end.offset
            simple.append((start, end, stop))
            self.add(rel, start, end, "statement_removed", [(start, end)],
                     lambda i, s: (s[0], "0"), function, "removed")
        data = self.text(rel).data
        i = 0
        while i + 1 < len(simple):
            a, b = simple[i], simple[i + 1]
            if a and b and b"\n" not in data[a[0]:a[2]] and b"\n" not in data[b[0]:b[2]] and \
                    b"//" not in data[a[0]:b[2]] and b"/*" not in data[a[0]:b[2]]:
                self.add(rel, a[0], b[2], "statements_swapped", [(a[0], a[2]), (a[2], b[0]), (b[0], b[2])],
                         lambda i_, s: (f"{s[0]}{s[1]}{s[2]}",
                                        f"{{ {s[2]} {s[0]} }}"), function, "swapped")
                i += 2
            else:
                i += 1


def find_sites(root, compile_commands, sources, headers):
    """Every site of `sources` (.cpp) and `headers`, ids assigned in order."""
    targets = {os.path.realpath(os.path.join(root, rel)): rel for rel in sources + headers}
    index = ci.Index.create()
    finder = Finder(root, targets)
    for source in sources:
        args = compile_args(root, compile_commands, source)
        tu = index.parse(os.path.join(root, source), args=args,
                         options=ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD)
        errors = [d for d in tu.diagnostics if d.severity >= ci.Diagnostic.Error]
        if errors:
            raise SystemExit(f"mutation: libclang could not parse {source}: {errors[0]}")
        finder.run(tu)
    unique = {}
    for site in finder.sites:
        unique.setdefault(site.key(), site)
    sites = sorted(unique.values(), key=Site.key)
    for number, site in enumerate(sites, start=1):
        site.id = number
    return sites, finder.files


class Rendered:
    """A file rewritten with schemata, and where each site's text landed in it."""

    def __init__(self):
        self.parts = []
        self.length = 0
        self.regions = []  # (start, end, site id) in the rewritten text

    def add(self, text):
        self.parts.append(text)
        self.length += len(text)


def nest(sites):
    """Sites of one file as a forest: (site, children) with children inside
    one of the site's segments. A site that overlaps another without nesting
    is dropped (returned apart)."""
    roots, stack, dropped = [], [], []
    for site in sorted(sites, key=lambda s: (s.start, -s.end, OPERATOR_RANK[s.operator], s.detail)):
        while stack and not (stack[-1][0].start <= site.start and site.end <= stack[-1][0].end and
                             stack[-1][0].start < stack[-1][0].end):
            stack.pop()
        node = (site, [])
        if stack:
            parent = stack[-1][0]
            inside = any(a <= site.start and site.end <= b for a, b in parent.segments)
            if not inside:
                dropped.append(site)
                continue
            stack[-1][1].append(node)
        else:
            if roots and roots[-1][0].end > site.start and roots[-1][0].start != roots[-1][0].end:
                dropped.append(site)
                continue
            roots.append(node)
        stack.append(node)
    return roots, dropped


def schema(site, original, mutated):
    """The switch between a site's original and mutated code, typed so that
    both branches agree (void for statements, bool for conditions)."""
    switch = on(site.id)
    if site.operator == "early_return":
        return mutated
    if site.operator == "statements_swapped":
        return f"if ({switch}) {mutated} else {{ {original} }}"
    if site.operator in ("statement_removed", "result_ignored"):
        return f"({switch} ? static_cast<void>({mutated}) : static_cast<void>({original}))"
    if site.operator.startswith("condition_"):
        return f"({switch} ? static_cast<bool>({mutated}) : static_cast<bool>({original}))"
    return f"({switch} ? {mutated} : {original})"


def render_range(data, start, end, nodes, mode):
    """Text of data[start:end] with every site in `nodes` (all inside)
    rendered: mode "schema" wraps each in its switch; mode N (an id) writes
    mutant N as plain code; mode 0 writes the original."""
    out, at = [], start
    for site, children in sorted(nodes, key=lambda n: (n[0].start, -n[0].end)):
        out.append(data[at:site.start].decode())
        segments = []
        for a, b in site.segments:
            inside = [n for n in children if a <= n[0].start and n[0].end <= b]
            segments.append(render_range(data, a, b, inside, mode))
        original, mutated = site.render(site.id, segments)
        if mode == "schema":
            out.append(schema(site, original, mutated))
        elif mode == site.id:
            out.append(mutated.replace(f"if ({on(site.id)}) ", "") if site.operator == "early_return" else mutated)
        else:
            out.append(original)
        at = site.end
    out.append(data[at:end].decode())
    return "".join(out)


def render_file(data, sites, mode):
    roots, _ = nest(sites)
    return render_range(data, 0, len(data), roots, mode)
