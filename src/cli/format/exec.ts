/**
 * The executor of Go's text/template (text/template/exec.go), over the value model of values.ts. Error
 * messages follow Go's: `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.
 */
import { InvalidArgumentError } from '../../util/errors.ts';
import { asGoFunction, type FuncMap, type GoFunction, type ParamType } from './funcs.ts';
import { formatValue, quote } from './gofmt.ts';
import {
  nodeString,
  type ChainNode,
  type CommandNode,
  type FieldNode,
  type IdentifierNode,
  type ListNode,
  type Node,
  type NumberNode,
  type PipeNode,
  type RangeNode,
  type TemplateNode,
  type Tree,
  type VariableNode,
} from './parse.ts';
import { GoFloat, findMember, goTypeName, isTrue, kindOf, mapGet, mapHas, sortedEntries, toBigInt } from './values.ts';

/**
 * Go's `missingkey` option: what a field lookup of a missing map key gives. `invalid` (Go's `default`): the
 * missing value, printed `<no value>`; `zero`: the zero value of the map's elements ('' for a map[string]string,
 * else a nil interface, which also prints `<no value>`); `error`: execution stops with
 * `map has no entry for key "K"`.
 */
export type MissingKey = 'invalid' | 'zero' | 'error';

/** An execution error; `partial` is what the template wrote before it failed (Go leaves it in the writer). */
export class TemplateExecError extends InvalidArgumentError {
  readonly partial: string;
  constructor(message: string, partial: string, options?: { cause?: unknown }) {
    super(message, options);
    this.partial = partial;
  }
}

const MISSING: unique symbol = Symbol('missing');
type Final = unknown;

class BreakSignal {}
class ContinueSignal {}
const BREAK = new BreakSignal();
const CONTINUE = new ContinueSignal();

/** Internal: an error already formatted with Go's context, on its way out. */
class ExecFailure {
  readonly message: string;
  readonly cause: unknown;
  constructor(message: string, cause?: unknown) {
    this.message = message;
    this.cause = cause;
  }
}

const MAX_EXEC_DEPTH = 10000;

interface Variable {
  name: string;
  value: unknown;
}

/** Executes the tree `name` of `trees` over `data`. */
export function execute(
  trees: Map<string, Tree>,
  name: string,
  data: unknown,
  funcs: Map<string, GoFunction>,
  missingKey: MissingKey = 'invalid',
): string {
  const tree = trees.get(name);
  const out: string[] = [];
  const state = new State(trees, tree, name, out, funcs, 0, missingKey);
  try {
    if (tree === undefined) return state.errorf(`${quote(name)} is an incomplete or empty template`);
    state.vars = [{ name: '$', value: data }];
    state.walk(data, tree.root);
  } catch (err) {
    if (err instanceof ExecFailure) throw new TemplateExecError(err.message, out.join(''), { cause: err.cause });
    throw err;
  }
  return out.join('');
}

export function funcMap(...maps: FuncMap[]): Map<string, GoFunction> {
  const m = new Map<string, GoFunction>();
  for (const map of maps) for (const [k, v] of Object.entries(map)) m.set(k, asGoFunction(v));
  return m;
}

/** Go's ErrorContext: "NAME:LINE:BYTE" for a node, counting bytes of UTF-8 as Go does. */
function location(tree: Tree, pos: number): string {
  const text = tree.text.slice(0, pos);
  const nl = text.lastIndexOf('\n');
  const byteNum = Buffer.byteLength(nl === -1 ? text : text.slice(nl + 1), 'utf8');
  const lineNum = 1 + (text.match(/\n/g)?.length ?? 0);
  return `${tree.parseName}:${lineNum}:${byteNum}`;
}

class State {
  vars: Variable[] = [];
  node: Node | undefined;
  readonly trees: Map<string, Tree>;
  readonly tree: Tree | undefined;
  readonly name: string;
  readonly out: string[];
  readonly funcs: Map<string, GoFunction>;
  readonly depth: number;
  readonly missingKey: MissingKey;

  constructor(
    trees: Map<string, Tree>,
    tree: Tree | undefined,
    name: string,
    out: string[],
    funcs: Map<string, GoFunction>,
    depth: number,
    missingKey: MissingKey,
  ) {
    this.trees = trees;
    this.tree = tree;
    this.name = name;
    this.out = out;
    this.funcs = funcs;
    this.depth = depth;
    this.missingKey = missingKey;
  }

  at(node: Node): void {
    this.node = node;
  }

  errorf(message: string, cause?: unknown): never {
    if (this.node === undefined || this.tree === undefined) {
      throw new ExecFailure(`template: ${this.name}: ${message}`, cause);
    }
    const loc = location(this.tree, this.node.pos);
    throw new ExecFailure(
      `template: ${loc}: executing ${quote(this.name)} at <${nodeString(this.node)}>: ${message}`,
      cause,
    );
  }

  // --- variables

  mark(): number {
    return this.vars.length;
  }
  pop(mark: number): void {
    this.vars.length = mark;
  }
  setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }
  setTopVar(n: number, value: unknown): void {
    this.vars[this.vars.length - n]!.value = value;
  }
  varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.errorf(`undefined variable: ${name}`);
  }

  // --- walking

  walk(dot: unknown, node: Node): void {
    this.at(node);
    switch (node.type) {
      case 'action': {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
      case 'comment':
        return;
      case 'if':
      case 'with':
        return this.walkIfOrWith(node.type, dot, node.pipe, node.list, node.elseList);
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'range':
        return this.walkRange(dot, node);
      case 'template':
        return this.walkTemplate(dot, node);
      case 'text':
        this.out.push(node.text);
        return;
      default:
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  walkIfOrWith(
    type: 'if' | 'with',
    dot: unknown,
    pipe: PipeNode,
    list: ListNode,
    elseList: ListNode | undefined,
  ): void {
    const mark = this.mark();
    try {
      const val = this.evalPipeline(dot, pipe);
      if (isTrue(val)) this.walk(type === 'with' ? val : dot, list);
      else if (elseList !== undefined) this.walk(dot, elseList);
    } finally {
      this.pop(mark);
    }
  }

  walkRange(dot: unknown, r: RangeNode): void {
    this.at(r);
    const outer = this.mark();
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const mark = this.mark();
      const decl = r.pipe.decl;
      const oneIteration = (index: unknown, elem: unknown): void => {
        if (decl.length > 0) {
          if (r.pipe.isAssign) this.setVar(decl[0]!.ident[0]!, decl.length > 1 ? index : elem);
          else this.setTopVar(1, elem);
        }
        if (decl.length > 1) {
          if (r.pipe.isAssign) this.setVar(decl[1]!.ident[0]!, elem);
          else this.setTopVar(2, index);
        }
        try {
          this.walk(elem, r.list);
        } catch (err) {
          if (err !== CONTINUE) throw err;
        } finally {
          this.pop(mark);
        }
      };
      let ran = false;
      try {
        switch (kindOf(val)) {
          case 'slice':
            (val as unknown[]).forEach((e, i) => {
              ran = true;
              oneIteration(i, e);
            });
            break;
          case 'map':
            for (const [k, e] of sortedEntries(val as object)) {
              ran = true;
              oneIteration(k, e);
            }
            break;
          case 'int':
          case 'uint': {
            if (decl.length > 1) this.errorf(`can't use ${formatValue(val)} to iterate over more than one variable`);
            const n = toBigInt(val);
            for (let i = 0n; i < n; i++) {
              ran = true;
              oneIteration(undefined, typeof val === 'bigint' ? i : Number(i));
            }
            break;
          }
          case 'invalid':
          case 'nil':
            break;
          default:
            this.errorf(`range can't iterate over ${formatValue(val)}`);
        }
      } catch (err) {
        if (err !== BREAK) throw err;
        return;
      }
      if (!ran && r.elseList !== undefined) this.walk(dot, r.elseList);
    } finally {
      this.pop(outer);
    }
  }

  walkTemplate(dot: unknown, t: TemplateNode): void {
    this.at(t);
    const tree = this.trees.get(t.name);
    if (tree === undefined) this.errorf(`template ${quote(t.name)} not defined`);
    if (this.depth >= MAX_EXEC_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    const newDot = this.evalPipeline(dot, t.pipe);
    const sub = new State(this.trees, tree, t.name, this.out, this.funcs, this.depth + 1, this.missingKey);
    sub.vars = [{ name: '$', value: newDot }];
    sub.walk(newDot, tree.root);
  }

  // --- evaluation

  evalPipeline(dot: unknown, pipe: PipeNode | undefined): unknown {
    if (pipe === undefined) return undefined;
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0]!, value);
      else this.vars.push({ name: v.ident[0]!, value });
    }
    return value;
  }

  notAFunction(args: Node[], final: Final): void {
    if (args.length > 1 || final !== MISSING)
      this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const args = cmd.args;
    const first = args[0]!;
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, first, args, final);
      case 'chain':
        return this.evalChainNode(dot, first, args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, args, final);
      case 'pipe':
        this.notAFunction(args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, args, final);
    }
    this.at(first);
    this.notAFunction(args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
    this.errorf(`can't evaluate command ${quote(nodeString(first))}`);
  }

  /** A number literal where no type is known: float if it is written as one, else int. */
  idealConstant(n: NumberNode): unknown {
    this.at(n);
    const isHexInt = /^[+-]?0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    if (n.isFloat && !isHexInt && !n.text.startsWith("'") && /[.eEpP]/.test(n.text)) {
      return Number.isInteger(n.float64) ? new GoFloat(n.float64) : n.float64;
    }
    if (n.isInt) return intValue(n.int64);
    if (n.isUint) this.errorf(`${n.text} overflows int`);
    return undefined;
  }

  evalFieldNode(dot: unknown, field: FieldNode, args: Node[] | undefined, final: Final): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  evalChainNode(dot: unknown, chain: ChainNode, args: Node[] | undefined, final: Final): unknown {
    this.at(chain);
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, undefined, chain.node);
    return this.evalFieldChain(dot, pipe, chain, chain.field, args, final);
  }

  evalVariableNode(dot: unknown, v: VariableNode, args: Node[] | undefined, final: Final): unknown {
    this.at(v);
    const value = this.varValue(v.ident[0]!);
    if (v.ident.length === 1) {
      this.notAFunction(args ?? [v], final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  evalFieldChain(
    dot: unknown,
    receiver: unknown,
    node: Node,
    ident: string[],
    args: Node[] | undefined,
    final: Final,
  ): unknown {
    const n = ident.length;
    for (let i = 0; i < n - 1; i++) receiver = this.evalField(dot, ident[i]!, node, undefined, MISSING, receiver);
    return this.evalField(dot, ident[n - 1]!, node, args, final, receiver);
  }

  /** Calls a function; `cmd` is the node errors from the call itself are reported at. */
  evalFunction(dot: unknown, node: IdentifierNode, cmd: Node, args: Node[] | undefined, final: Final): unknown {
    this.at(node);
    const name = node.ident;
    const f = this.funcs.get(name);
    if (f === undefined) this.errorf(`${quote(name)} is not a defined function`);
    return this.evalCall(dot, f, true, cmd, name, args, final);
  }

  evalField(
    dot: unknown,
    fieldName: string,
    node: Node,
    args: Node[] | undefined,
    final: Final,
    receiver: unknown,
  ): unknown {
    if (receiver === undefined) {
      // An invalid receiver is treated as a missing map key.
      if (this.missingKey === 'error') this.errorf(`nil data; no entry for key ${quote(fieldName)}`);
      return undefined;
    }
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${fieldName}`);
    const hasArgs = (args?.length ?? 0) > 1 || final !== MISSING;
    switch (kindOf(receiver)) {
      case 'struct': {
        const m = findMember(receiver as object, fieldName);
        if (m?.kind === 'method') {
          return this.evalCall(dot, { params: [], variadic: 'any', fn: m.fn }, false, node, fieldName, args, final);
        }
        if (m !== undefined) {
          if (hasArgs) this.errorf(`${fieldName} has arguments but cannot be invoked as function`);
          return m.value;
        }
        break;
      }
      case 'map': {
        // A method of a Go map type (docker's SubHeaderContext.Label): an own non-enumerable function. An
        // enumerable one is an entry holding a func value (for `call`).
        const desc =
          receiver instanceof Map ? undefined : Object.getOwnPropertyDescriptor(receiver as object, fieldName);
        const method: unknown = desc !== undefined && desc.enumerable === false ? desc.value : undefined;
        if (typeof method === 'function') {
          return this.evalCall(
            dot,
            { params: [], variadic: 'any', fn: method as (...a: unknown[]) => unknown },
            false,
            node,
            fieldName,
            args,
            final,
          );
        }
        if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
        if (this.missingKey !== 'invalid' && !mapHas(receiver as object, fieldName)) {
          if (this.missingKey === 'error') this.errorf(`map has no entry for key ${quote(fieldName)}`);
          // The zero value of the elements: '' for a map[string]string, else a nil interface.
          return goTypeName(receiver) === 'map[string]string' ? '' : undefined;
        }
        return mapGet(receiver as object, fieldName);
      }
    }
    this.errorf(`can't evaluate field ${fieldName} in type ${goTypeName(receiver)}`);
  }

  evalCall(
    dot: unknown,
    fun: GoFunction,
    isBuiltin: boolean,
    node: Node,
    name: string,
    args: Node[] | undefined,
    final: Final,
  ): unknown {
    const argNodes = args === undefined ? [] : args.slice(1);
    const numIn = argNodes.length + (final !== MISSING ? 1 : 0);
    let numFixed = argNodes.length;
    if (fun.variadic !== undefined) {
      numFixed = fun.params.length;
      if (numIn < numFixed) {
        this.errorf(`wrong number of args for ${name}: want at least ${fun.params.length} got ${argNodes.length}`);
      }
    } else if (numIn !== fun.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${fun.params.length} got ${numIn}`);
    }

    if (isBuiltin && (name === 'and' || name === 'or')) {
      let v: unknown;
      for (const arg of argNodes) {
        v = this.evalArg(dot, 'value', arg);
        if (isTrue(v) === (name === 'or')) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }

    const argv: unknown[] = [];
    let i = 0;
    for (; i < numFixed && i < argNodes.length; i++) argv.push(this.evalArg(dot, fun.params[i], argNodes[i]!));
    if (fun.variadic !== undefined)
      for (; i < argNodes.length; i++) argv.push(this.evalArg(dot, fun.variadic, argNodes[i]!));
    if (final !== MISSING) {
      const t = fun.variadic === undefined || numIn - 1 < numFixed ? fun.params[numIn - 1] : fun.variadic;
      argv.push(this.validateType(final, t));
    }
    if (isBuiltin && name === 'call') argv.unshift(nodeString(argNodes[0]!));
    let result: unknown;
    try {
      result = (fun.fn as (...a: unknown[]) => unknown)(...argv);
    } catch (err) {
      if (err instanceof ExecFailure || err === BREAK || err === CONTINUE) throw err;
      this.at(node);
      this.errorf(`error calling ${name}: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    return result;
  }

  evalArg(dot: unknown, typ: ParamType | undefined, n: Node): unknown {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, typ);
      case 'nil':
        // An untyped nil: a nil interface (our missing value) or a nil slice.
        if (typ === undefined || typ === 'any' || typ === 'value') return undefined;
        if (typ === '[]string') return null;
        this.errorf(`cannot assign nil to ${typ}`);
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), typ);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, undefined, MISSING), typ);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), typ);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, undefined, MISSING), typ);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, undefined, MISSING), typ);
    }
    switch (typ) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        this.errorf(`expected bool; found ${nodeString(n)}`);
      case 'float64':
        if (n.type === 'number' && n.isFloat) return n.float64;
        this.errorf(`expected float; found ${nodeString(n)}`);
      case 'int':
        if (n.type === 'number' && n.isInt) return intValue(n.int64);
        this.errorf(`expected integer; found ${nodeString(n)}`);
      case 'string':
        if (n.type === 'string') return n.text;
        this.errorf(`expected string; found ${nodeString(n)}`);
      case undefined:
      case 'any':
      case 'value':
        return this.evalEmptyInterface(dot, n);
    }
    this.errorf(`can't handle ${nodeString(n)} for arg of type ${typ}`);
  }

  evalEmptyInterface(dot: unknown, n: Node): unknown {
    this.at(n);
    switch (n.type) {
      case 'bool':
        return n.value;
      case 'dot':
        return dot;
      case 'field':
        return this.evalFieldNode(dot, n, undefined, MISSING);
      case 'identifier':
        return this.evalFunction(dot, n, n, undefined, MISSING);
      case 'number':
        return this.idealConstant(n);
      case 'string':
        return n.text;
      case 'variable':
        return this.evalVariableNode(dot, n, undefined, MISSING);
      case 'pipe':
        return this.evalPipeline(dot, n);
    }
    this.errorf(`can't handle assignment of ${nodeString(n)} to empty interface argument`);
  }

  /** Checks a value against a parameter type, as Go's validateType does for assignability. */
  validateType(value: unknown, typ: ParamType | undefined): unknown {
    if (typ === undefined || typ === 'any' || typ === 'value') return value;
    if (value === undefined || value === null) {
      if (typ === '[]string') return null;
      this.errorf(`invalid value; expected ${typ}`);
    }
    const k = kindOf(value);
    const ok =
      (typ === 'string' && k === 'string') ||
      (typ === 'int' && k === 'int') ||
      (typ === 'bool' && k === 'bool') ||
      (typ === 'float64' && k === 'float') ||
      (typ === '[]string' && Array.isArray(value) && value.every((e) => typeof e === 'string'));
    if (!ok) this.errorf(`wrong type for value; expected ${typ}; got ${goTypeName(value)}`);
    if (typ === 'int') return intValue(toBigInt(value));
    if (typ === 'float64') return value instanceof GoFloat ? value.value : value;
    return value;
  }

  printValue(node: Node, v: unknown): void {
    this.at(node);
    if (v === undefined) {
      this.out.push('<no value>');
      return;
    }
    if (typeof v === 'function') this.errorf(`can't print ${nodeString(node)} of type ${goTypeName(v)}`);
    this.out.push(formatValue(v));
  }
}

/** A Go int as a JavaScript number when it fits exactly, else a bigint. */
function intValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
