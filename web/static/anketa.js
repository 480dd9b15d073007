/*
 * anketa.js: the questionnaire expression language in the browser, and the live
 * show/hide of questions with a show_if condition.
 *
 * The server is authoritative (core/expr.c); this file repeats its rules exactly, so a
 * question hides here when the server would treat it as hidden. Both run the vectors of
 * tests/data/expr/vectors.json. Loaded as a classic <script defer>; under node it exports
 * the evaluator for the tests.
 */
(function () {
  'use strict';

  var MAX_LEN = 4096; /* bytes of UTF-8 */
  var MAX_DEPTH = 64;
  var QUOTE_MAX = 24; /* characters of a token quoted in a message */
  var EXACT_INT = 9007199254740992;

  var FUNCTIONS = {
    selected: [2, 2],
    count: [1, 1],
    empty: [1, 1],
    answered: [1, 1],
    number: [1, 1],
    string: [1, 1],
    length: [1, 1],
    min: [1, -1],
    max: [1, -1],
    round: [1, 2],
    if: [3, 3],
    contains: [2, 2]
  };
  var FUNCTION_ORDER = Object.keys(FUNCTIONS);

  var KEYWORDS = {
    and: 'and', or: 'or', not: 'not', in: 'in', true: 'true', false: 'false', null: 'null'
  };

  var CURLY_QUOTES = '\u201c\u201d\u201e\u2018\u2019\u00ab\u00bb';

  function ExprError(message, col) {
    this.name = 'ExprError';
    this.message = message;
    this.col = col;
  }
  ExprError.prototype = Object.create(Error.prototype);
  ExprError.prototype.constructor = ExprError;

  function isDigit(c) {
    return c >= '0' && c <= '9';
  }

  function isLower(c) {
    return c >= 'a' && c <= 'z';
  }

  function isWord(c) {
    return isLower(c) || (c >= 'A' && c <= 'Z') || isDigit(c) || c === '_';
  }

  function isSpace(c) {
    return c === ' ' || c === '\t' || c === '\n' || c === '\r';
  }

  function utf8Length(chars) {
    var n = 0;
    for (var i = 0; i < chars.length; i++) {
      var cp = chars[i].codePointAt(0);
      n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }
    return n;
  }

  /* Sign of a - b by Unicode code points (UTF-16 order differs above U+FFFF). */
  function compareStrings(a, b) {
    var i = 0;
    while (i < a.length && i < b.length) {
      var x = a.codePointAt(i);
      var y = b.codePointAt(i);
      if (x !== y) return x < y ? -1 : 1;
      i += x > 0xffff ? 2 : 1;
    }
    if (a.length === b.length) return 0;
    return a.length < b.length ? -1 : 1;
  }

  function codePoints(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c < 0xdc00 || c > 0xdfff) n++;
    }
    return n;
  }

  /* ---- lexer and parser ---- */

  function Parser(src) {
    this.cs = Array.from(src);
    this.pos = 0;
    this.depth = 0;
    this.tok = null;
    this.refs = [];
  }

  Parser.prototype.fail = function (at, message) {
    throw new ExprError(message, at + 1);
  };

  Parser.prototype.quote = function (start, end) {
    var stop = Math.min(end, start + QUOTE_MAX);
    return '"' + this.cs.slice(start, stop).join('') + (stop < end ? '...' : '') + '"';
  };

  Parser.prototype.lexNumber = function (i) {
    var cs = this.cs;
    var start = i;
    while (i < cs.length && isDigit(cs[i])) i++;
    if (i < cs.length && cs[i] === '.') {
      if (i + 1 >= cs.length || !isDigit(cs[i + 1])) this.fail(i, 'expected a digit after "."');
      i++;
      while (i < cs.length && isDigit(cs[i])) i++;
    }
    var v = Number(cs.slice(start, i).join(''));
    if (!isFinite(v)) this.fail(start, 'number too large');
    return { kind: 'num', num: v, start: start, end: i };
  };

  Parser.prototype.lexString = function (i) {
    var cs = this.cs;
    var start = i;
    var quote = cs[i++];
    var text = '';
    for (;;) {
      if (i >= cs.length) this.fail(start, 'unterminated string');
      var c = cs[i];
      if (c === quote) break;
      if (c === '\\') {
        if (i + 1 >= cs.length) this.fail(start, 'unterminated string');
        var next = cs[i + 1];
        if (next !== '\\' && next !== "'" && next !== '"') {
          this.fail(i, 'unknown escape "\\' + next + '" in a string (use \\\\, \\\' or \\")');
        }
        text += next;
        i += 2;
        continue;
      }
      text += c;
      i++;
    }
    return { kind: 'str', str: text, start: start, end: i + 1 };
  };

  Parser.prototype.lexWord = function (i) {
    var cs = this.cs;
    var start = i;
    var valid = isLower(cs[i]);
    while (i < cs.length && isWord(cs[i])) {
      if (cs[i] >= 'A' && cs[i] <= 'Z') valid = false;
      i++;
    }
    var word = cs.slice(start, i).join('');
    if (!valid) {
      this.fail(start, 'invalid name "' + word + '" (names are lowercase Latin letters, ' +
        'digits and "_", starting with a letter)');
    }
    if (Object.prototype.hasOwnProperty.call(KEYWORDS, word)) {
      return { kind: KEYWORDS[word], start: start, end: i };
    }
    return { kind: 'name', str: word, start: start, end: i };
  };

  Parser.prototype.lexSymbol = function (i) {
    var c = this.cs[i];
    var next = i + 1 < this.cs.length ? this.cs[i + 1] : '';
    var t = { kind: 'op', op: null, start: i, end: i + 1 };
    switch (c) {
      case '(': t.kind = '('; return t;
      case ')': t.kind = ')'; return t;
      case '[': t.kind = '['; return t;
      case ']': t.kind = ']'; return t;
      case ',': t.kind = ','; return t;
      case '+': case '-': case '*': case '/': case '%': t.op = c; return t;
      case '=':
        if (next === '=') this.fail(i, '"==" is not an operator (use "=")');
        t.op = '=';
        return t;
      case '!':
        if (next !== '=') this.fail(i, '"!" is not an operator (use "not")');
        t.op = '!=';
        t.end = i + 2;
        return t;
      case '<':
        if (next === '>') this.fail(i, '"<>" is not an operator (use "!=")');
        t.op = next === '=' ? '<=' : '<';
        t.end = next === '=' ? i + 2 : i + 1;
        return t;
      case '>':
        t.op = next === '=' ? '>=' : '>';
        t.end = next === '=' ? i + 2 : i + 1;
        return t;
      case '&':
        if (next === '&') this.fail(i, '"&&" is not an operator (use "and")');
        break;
      case '|':
        if (next === '|') this.fail(i, '"||" is not an operator (use "or")');
        break;
      default:
        break;
    }
    var code = c.codePointAt(0);
    if (code < 0x20 || code === 0x7f) this.fail(i, 'unexpected control character');
    if (CURLY_QUOTES.indexOf(c) >= 0) {
      this.fail(i, 'unexpected character "' + c + '" (use straight quotes \' or ")');
    }
    return this.fail(i, 'unexpected character "' + c + '"');
  };

  Parser.prototype.lex = function () {
    var cs = this.cs;
    var i = this.pos;
    while (i < cs.length && isSpace(cs[i])) i++;
    var t;
    if (i >= cs.length) t = { kind: 'end', start: i, end: i };
    else if (isDigit(cs[i])) t = this.lexNumber(i);
    else if (cs[i] === "'" || cs[i] === '"') t = this.lexString(i);
    else if (isWord(cs[i])) t = this.lexWord(i);
    else t = this.lexSymbol(i);
    this.tok = t;
    this.pos = t.end;
  };

  Parser.prototype.isCmp = function () {
    var t = this.tok;
    return t.kind === 'in' ||
      (t.kind === 'op' && ['=', '!=', '<', '<=', '>', '>='].indexOf(t.op) >= 0);
  };

  Parser.prototype.enter = function (at) {
    if (++this.depth > MAX_DEPTH) {
      this.fail(at, 'expression nested too deeply (more than ' + MAX_DEPTH + ' levels)');
    }
  };

  Parser.prototype.unexpected = function () {
    var t = this.tok;
    if (t.kind === 'end') this.fail(t.start, 'unexpected end of expression');
    this.fail(t.start, 'unexpected ' + this.quote(t.start, t.end));
  };

  Parser.prototype.items = function (close, open) {
    var items = [];
    this.lex();
    if (this.tok.kind === close) {
      this.lex();
      return items;
    }
    for (;;) {
      items.push(this.parseOr());
      if (this.tok.kind === ',') {
        this.lex();
        continue;
      }
      if (this.tok.kind === close) {
        this.lex();
        return items;
      }
      this.fail(this.tok.start, 'expected "," or "' + close + '" to close "' +
        (close === ')' ? '(' : '[') + '" at column ' + (open + 1));
    }
  };

  function editDistance(a, b) {
    var row = [];
    for (var j = 0; j <= b.length; j++) row.push(j);
    for (var i = 1; i <= a.length; i++) {
      var diag = row[0];
      row[0] = i;
      for (j = 1; j <= b.length; j++) {
        var up = row[j];
        var best = diag + (a[i - 1] !== b[j - 1] ? 1 : 0);
        if (up + 1 < best) best = up + 1;
        if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
        row[j] = best;
        diag = up;
      }
    }
    return row[b.length];
  }

  Parser.prototype.parseCall = function (name, at) {
    if (!Object.prototype.hasOwnProperty.call(FUNCTIONS, name)) {
      var best = null;
      var bestD = 3;
      if (name.length < 32) {
        FUNCTION_ORDER.forEach(function (f) {
          var d = editDistance(name, f);
          if (d < bestD) {
            bestD = d;
            best = f;
          }
        });
      }
      this.fail(at, 'unknown function "' + name + '"' +
        (best ? ' (did you mean "' + best + '"?)' : ''));
    }
    this.enter(this.tok.start);
    var args = this.items(')', this.tok.start);
    this.depth--;
    var min = FUNCTIONS[name][0];
    var max = FUNCTIONS[name][1];
    var got = args.length;
    if (got < min || (max >= 0 && got > max)) {
      var s = min === 1 ? '' : 's';
      var msg;
      if (max < 0) msg = 'takes at least ' + min + ' argument' + s;
      else if (min === max) msg = 'takes ' + min + ' argument' + s;
      else msg = 'takes ' + min + ' or ' + max + ' arguments';
      this.fail(at, 'function "' + name + '" ' + msg + ', got ' + got);
    }
    return { kind: 'call', fn: name, kids: args };
  };

  Parser.prototype.parsePrimary = function () {
    var t = this.tok;
    switch (t.kind) {
      case 'num':
        this.lex();
        return { kind: 'lit', value: t.num };
      case 'str':
        this.lex();
        return { kind: 'lit', value: t.str };
      case 'true':
      case 'false':
        this.lex();
        return { kind: 'lit', value: t.kind === 'true' };
      case 'null':
        this.lex();
        return { kind: 'lit', value: null };
      case 'name':
        this.lex();
        if (this.tok.kind === '(') return this.parseCall(t.str, t.start);
        if (this.refs.indexOf(t.str) < 0) this.refs.push(t.str);
        return { kind: 'ref', id: t.str };
      case '(': {
        this.enter(t.start);
        this.lex();
        var inner = this.parseOr();
        if (this.tok.kind !== ')') {
          this.fail(this.tok.start, 'expected ")" to close "(" at column ' + (t.start + 1));
        }
        this.depth--;
        this.lex();
        return inner;
      }
      case '[':
        return this.fail(t.start, 'a list "[...]" can only follow "in"');
      default:
        return this.unexpected();
    }
  };

  Parser.prototype.parseUnary = function () {
    if (this.tok.kind !== 'op' || this.tok.op !== '-') return this.parsePrimary();
    this.enter(this.tok.start);
    this.lex();
    var kid = this.parseUnary();
    this.depth--;
    if (kid.kind === 'lit' && typeof kid.value === 'number') {
      kid.value = kid.value === 0 ? 0 : -kid.value;
      return kid;
    }
    return { kind: 'neg', kids: [kid] };
  };

  Parser.prototype.parseArith = function (multiplicative) {
    var ops = multiplicative ? ['*', '/', '%'] : ['+', '-'];
    var self = this;
    var operand = function () {
      return multiplicative ? self.parseUnary() : self.parseArith(true);
    };
    var left = operand();
    var n = null;
    while (this.tok.kind === 'op' && ops.indexOf(this.tok.op) >= 0) {
      var op = this.tok.op;
      if (!n) n = { kind: 'arith', kids: [left], ops: [null] };
      this.lex();
      n.kids.push(operand());
      n.ops.push(op);
    }
    return n || left;
  };

  Parser.prototype.parseCmp = function () {
    var left = this.parseArith(false);
    if (!this.isCmp()) return left;
    var t = this.tok;
    this.lex();
    var right;
    if (t.kind === 'in' && this.tok.kind === '[') {
      this.enter(this.tok.start);
      right = { kind: 'list', kids: this.items(']', this.tok.start) };
      this.depth--;
    } else {
      right = this.parseArith(false);
    }
    if (this.isCmp()) this.fail(this.tok.start, 'comparisons cannot be chained (use "and")');
    if (t.kind === 'in') return { kind: 'in', kids: [left, right] };
    return { kind: 'cmp', op: t.op, kids: [left, right] };
  };

  Parser.prototype.parseNot = function () {
    if (this.tok.kind !== 'not') return this.parseCmp();
    this.enter(this.tok.start);
    this.lex();
    var kid = this.parseNot();
    this.depth--;
    return { kind: 'not', kids: [kid] };
  };

  Parser.prototype.parseLogic = function (isAnd) {
    var word = isAnd ? 'and' : 'or';
    var self = this;
    var operand = function () {
      return isAnd ? self.parseNot() : self.parseLogic(true);
    };
    var left = operand();
    if (this.tok.kind !== word) return left;
    var n = { kind: word, kids: [left] };
    while (this.tok.kind === word) {
      this.lex();
      n.kids.push(operand());
    }
    return n;
  };

  Parser.prototype.parseOr = function () {
    return this.parseLogic(false);
  };

  /* Parses src; throws an ExprError with .message and .col (1-based, in characters). */
  function parse(src) {
    var p = new Parser(src);
    if (utf8Length(p.cs) > MAX_LEN) {
      throw new ExprError('expression too long (more than ' + MAX_LEN + ' bytes)', 1);
    }
    p.lex();
    if (p.tok.kind === 'end') throw new ExprError('empty expression', 1);
    var root = p.parseOr();
    var t = p.tok;
    if (t.kind === ')') p.fail(t.start, 'unmatched ")"');
    if (t.kind === ']') p.fail(t.start, 'unmatched "]"');
    if (t.kind !== 'end') p.fail(t.start, 'expected an operator, got ' + p.quote(t.start, t.end));
    return { root: root, refs: p.refs };
  }

  /* The question ids an expression refers to, each once, in order of first appearance. */
  function refs(expr) {
    return expr.refs.slice();
  }

  /* ---- values ---- */

  function typeOf(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'list';
    return typeof v;
  }

  /* Every number the language produces is finite and has no negative zero. */
  function num(d) {
    if (!isFinite(d)) return null;
    return d === 0 ? 0 : d;
  }

  function normalise(v) {
    if (v === undefined || v === null) return null;
    if (typeof v === 'number') return num(v);
    if (typeof v === 'string') return v === '' ? null : v;
    if (typeof v === 'boolean') return v;
    if (Array.isArray(v)) return v.length ? v.map(String) : null;
    return null;
  }

  function truthy(v) {
    return v === true;
  }

  function equal(l, r) {
    if (l === null || r === null) return l === r;
    var tl = typeOf(l);
    if (tl !== typeOf(r) || tl === 'list') return false;
    return l === r;
  }

  function compare(op, l, r) {
    if (op === '=') return equal(l, r);
    if (op === '!=') return !equal(l, r);
    var c;
    if (typeof l === 'number' && typeof r === 'number') c = l > r ? 1 : l < r ? -1 : 0;
    else if (typeof l === 'string' && typeof r === 'string') c = compareStrings(l, r);
    else return false;
    if (op === '<') return c < 0;
    if (op === '<=') return c <= 0;
    if (op === '>') return c > 0;
    return c >= 0;
  }

  function arith(op, l, r) {
    if (op === '+' && typeof l === 'string' && typeof r === 'string') return l + r;
    if (typeof l !== 'number' || typeof r !== 'number') return null;
    switch (op) {
      case '+': return num(l + r);
      case '-': return num(l - r);
      case '*': return num(l * r);
      case '/': return r === 0 ? null : num(l / r);
      default: return r === 0 ? null : num(l % r);
    }
  }

  var NUMBER_RE = /^[ \t\n\r]*([+-]?[0-9]+(?:[.,][0-9]+)?)[ \t\n\r]*$/;

  /* The rules of number(): spaces, a sign, digits, a fraction after "." or ","; else null. */
  function parseNumber(s) {
    var m = NUMBER_RE.exec(s);
    if (!m) return null;
    return num(Number(m[1].replace(',', '.')));
  }

  /*
   * string() of a number: integers up to 2^53 in full; anything else rounded (half away
   * from zero) to 15 significant digits from its shortest form, laid out like String().
   */
  function formatNumber(x) {
    if (x === 0) return '0';
    var sign = '';
    if (x < 0) {
      sign = '-';
      x = -x;
    }
    if (x <= EXACT_INT && Math.floor(x) === x) return sign + x.toFixed(0);
    var m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(x.toExponential());
    var d = (m[1] + (m[2] || '')).split('').map(Number);
    var e10 = parseInt(m[3], 10);
    if (d.length > 15) {
      var carry = d[15] >= 5;
      d = d.slice(0, 15);
      for (var i = 14; carry && i >= 0; i--) {
        if (d[i] === 9) {
          d[i] = 0;
        } else {
          d[i]++;
          carry = false;
        }
      }
      if (carry) {
        d = [1];
        e10++;
      }
    }
    while (d.length > 1 && d[d.length - 1] === 0) d.pop();
    var k = d.length;
    var n = e10 + 1;
    var s = d.join('');
    var out;
    if (k <= n && n <= 21) out = s + '0'.repeat(n - k);
    else if (n > 0 && n <= 21) out = s.slice(0, n) + '.' + s.slice(n);
    else if (n > -6 && n <= 0) out = '0.' + '0'.repeat(-n) + s;
    else {
      out = s[0] + (k > 1 ? '.' + s.slice(1) : '') + 'e' + (n - 1 >= 0 ? '+' : '-') +
        Math.abs(n - 1);
    }
    return sign + out;
  }

  /* The text string(v) gives; '' for null and lists. */
  function formatValue(v) {
    if (typeof v === 'number') return formatNumber(v);
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    return '';
  }

  function roundHalfAway(v) {
    var a = Math.abs(v);
    var f = Math.floor(a);
    var r = a - f >= 0.5 ? f + 1 : f;
    return v < 0 ? -r : r;
  }

  function round(x, digits) {
    var d = 0;
    if (digits !== undefined) {
      if (typeof digits !== 'number' || Math.floor(digits) !== digits || Math.abs(digits) > 15) {
        return null;
      }
      d = digits;
    }
    if (typeof x !== 'number') return null;
    var m = 1;
    for (var i = 0; i < Math.abs(d); i++) m *= 10;
    return d >= 0 ? num(roundHalfAway(x * m) / m) : num(roundHalfAway(x / m) * m);
  }

  /* ---- evaluation ---- */

  function evalCall(n, look) {
    var fn = n.fn;
    var kids = n.kids;
    if (fn === 'if') return evalNode(kids[truthy(evalNode(kids[0], look)) ? 1 : 2], look);
    if (fn === 'min' || fn === 'max') {
      var best = 0;
      for (var i = 0; i < kids.length; i++) {
        var x = evalNode(kids[i], look);
        if (typeof x !== 'number') return null;
        if (i === 0 || (fn === 'min' ? x < best : x > best)) best = x;
      }
      return best;
    }
    var v = kids.map(function (k) {
      return evalNode(k, look);
    });
    switch (fn) {
      case 'selected':
        if (typeof v[1] !== 'string') return false;
        if (typeof v[0] === 'string') return v[0] === v[1];
        return Array.isArray(v[0]) && v[0].indexOf(v[1]) >= 0;
      case 'count':
        return Array.isArray(v[0]) ? v[0].length : v[0] === null ? 0 : 1;
      case 'empty':
      case 'answered': {
        var empty = v[0] === null || v[0] === '';
        return fn === 'empty' ? empty : !empty;
      }
      case 'number':
        if (typeof v[0] === 'number') return v[0];
        return typeof v[0] === 'string' ? parseNumber(v[0]) : null;
      case 'string':
        if (v[0] === null || Array.isArray(v[0])) return null;
        return formatValue(v[0]);
      case 'length':
        return typeof v[0] === 'string' ? codePoints(v[0]) : null;
      case 'round':
        return round(v[0], v[1]);
      default: /* contains */
        return typeof v[0] === 'string' && typeof v[1] === 'string' && v[0].indexOf(v[1]) >= 0;
    }
  }

  function evalNode(n, look) {
    var l, i;
    switch (n.kind) {
      case 'lit': return n.value;
      case 'ref': return normalise(look(n.id));
      case 'neg':
        l = evalNode(n.kids[0], look);
        return typeof l === 'number' ? num(-l) : null;
      case 'not': return !truthy(evalNode(n.kids[0], look));
      case 'and':
      case 'or':
        for (i = 0; i < n.kids.length; i++) {
          if (truthy(evalNode(n.kids[i], look)) === (n.kind === 'or')) return n.kind === 'or';
        }
        return n.kind === 'and';
      case 'cmp':
        return compare(n.op, evalNode(n.kids[0], look), evalNode(n.kids[1], look));
      case 'in': {
        l = evalNode(n.kids[0], look);
        if (l === null) return false;
        var list = n.kids[1];
        if (list.kind === 'list') {
          for (i = 0; i < list.kids.length; i++) {
            if (equal(l, evalNode(list.kids[i], look))) return true;
          }
          return false;
        }
        var r = evalNode(list, look);
        return Array.isArray(r) && typeof l === 'string' && r.indexOf(l) >= 0;
      }
      case 'arith':
        l = evalNode(n.kids[0], look);
        for (i = 1; i < n.kids.length && l !== null; i++) {
          l = arith(n.ops[i], l, evalNode(n.kids[i], look));
        }
        return l;
      case 'call': return evalCall(n, look);
      default: return null;
    }
  }

  /*
   * Evaluates a parsed expression; answers is a function (id -> value) or an object of
   * values by question id. Never throws on data.
   */
  function evaluate(expr, answers) {
    var look = typeof answers === 'function' ? answers : function (id) {
      return answers && Object.prototype.hasOwnProperty.call(answers, id) ? answers[id] : null;
    };
    return evalNode(expr.root, look);
  }

  /* ---- the form ---- */

  var ID_RE = /^[a-z][a-z0-9_]*$/;

  /* A raw answer as the expression sees it, given its question's data-type (if any). */
  function convertAnswer(qtype, inputType, raw) {
    if (Array.isArray(raw)) return raw.length ? raw : null;
    if (raw === null || raw === undefined || raw === '') return null;
    if (qtype === 'yesno') return raw === 'yes' ? true : raw === 'no' ? false : null;
    if (qtype === 'scale' || qtype === 'number' || (!qtype && inputType === 'number')) {
      return parseNumber(raw);
    }
    return raw;
  }

  /*
   * The answers of a form from its inputs, as {name, type, value, checked} descriptors:
   * fields "q.<id>"; a radio group gives its checked value, a checkbox group the list of
   * checked values, other fields their value. types maps question ids to the data-type of
   * their containers (yesno answers become booleans, scale and number answers numbers).
   */
  function readAnswers(inputs, types) {
    types = types || {};
    var raw = {};
    var kinds = {};
    inputs.forEach(function (input) {
      var name = input.name || '';
      if (name.slice(0, 2) !== 'q.') return;
      var id = name.slice(2);
      if (!ID_RE.test(id)) return;
      var type = (input.type || 'text').toLowerCase();
      if (type === 'checkbox') {
        if (!Array.isArray(raw[id])) raw[id] = [];
        if (input.checked) raw[id].push(String(input.value));
      } else if (type === 'radio') {
        if (input.checked) raw[id] = String(input.value);
        else if (!(id in raw)) raw[id] = null;
      } else {
        raw[id] = input.value === undefined || input.value === null ? null : String(input.value);
      }
      kinds[id] = type;
    });
    var answers = {};
    Object.keys(raw).forEach(function (id) {
      answers[id] = convertAnswer(types[id], kinds[id], raw[id]);
    });
    return answers;
  }

  var FIELDS = 'input, select, textarea';

  function describeInputs(root) {
    return Array.prototype.map.call(root.querySelectorAll(FIELDS), function (el) {
      return { name: el.name, type: el.type, value: el.value, checked: !!el.checked };
    });
  }

  function questionTypes(root) {
    var types = {};
    Array.prototype.forEach.call(root.querySelectorAll('[data-type]'), function (el) {
      var id = (el.id || '').replace(/^q-/, '');
      if (ID_RE.test(id)) types[id] = el.getAttribute('data-type');
    });
    return types;
  }

  /* Hidden questions' fields are disabled, so the browser does not submit them. */
  function setShown(el, shown) {
    if (shown) el.removeAttribute('hidden');
    else el.setAttribute('hidden', '');
    Array.prototype.forEach.call(el.querySelectorAll(FIELDS), function (field) {
      if (!shown && !field.disabled) {
        field.disabled = true;
        field.setAttribute('data-anketa-disabled', '');
      } else if (shown && field.hasAttribute('data-anketa-disabled')) {
        field.disabled = false;
        field.removeAttribute('data-anketa-disabled');
      }
    });
  }

  /*
   * Shows and hides the questions of root with a data-show-if condition. Questions are
   * decided in document order, and a hidden question counts as unanswered for the ones
   * after it, as on the server. Returns the function that re-decides them.
   */
  function bind(root) {
    var conditional = [];
    Array.prototype.forEach.call(root.querySelectorAll('[data-show-if]'), function (el) {
      try {
        conditional.push({ el: el, expr: parse(el.getAttribute('data-show-if')) });
      } catch (e) {
        if (!(e instanceof ExprError)) throw e;
      }
    });
    var types = questionTypes(root);
    /* Visible questions are numbered without gaps, from the page's first number on. */
    var numbers = Array.prototype.slice.call(root.querySelectorAll('.qnum'));
    var start = numbers.length ? parseInt(numbers[0].textContent, 10) || 1 : 1;
    var renumber = function () {
      var next = start;
      numbers.forEach(function (el) {
        var q = el.closest ? el.closest('.question') : null;
        if (!q || !q.hasAttribute('hidden')) el.textContent = next++ + '.';
      });
    };
    var update = function () {
      var answers = readAnswers(describeInputs(root), types);
      conditional.forEach(function (q) {
        var shown = truthy(evaluate(q.expr, answers));
        setShown(q.el, shown);
        if (!shown) answers[(q.el.id || '').replace(/^q-/, '')] = null;
      });
      renumber();
    };
    root.addEventListener('input', update);
    root.addEventListener('change', update);
    update();
    return update;
  }

  var api = {
    ExprError: ExprError,
    parse: parse,
    evaluate: evaluate,
    truthy: truthy,
    refs: refs,
    formatNumber: formatNumber,
    formatValue: formatValue,
    parseNumber: parseNumber,
    compareStrings: compareStrings,
    convertAnswer: convertAnswer,
    readAnswers: readAnswers,
    bind: bind,
    MAX_LEN: MAX_LEN,
    MAX_DEPTH: MAX_DEPTH
  };

  if (typeof module !== 'undefined' && module.exports) {
    module.exports = api;
  } else if (typeof document !== 'undefined') {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', function () {
        bind(document);
      });
    } else {
      bind(document);
    }
  }
}());
