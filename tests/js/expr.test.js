/*
 * Tests of web/static/anketa.js under node's test runner (node --test tests/js/): the same
 * vectors as the C evaluator, the examples of docs/expressions.md, the limits, the number
 * format, reading answers from form fields, and the live show/hide on a small fake DOM.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const anketa = require('../../web/static/anketa.js');

const ROOT = path.join(__dirname, '..', '..');
const vectors = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/data/expr/vectors.json'), 'utf8'));

function answersOf(c) {
  return c.answers || {};
}

test('vectors', async (t) => {
  assert.ok(vectors.cases.length >= 180);
  for (const [i, c] of vectors.cases.entries()) {
    await t.test(`#${i} ${c.expr.slice(0, 60)}`, () => {
      const e = c.expect;
      if (e !== null && typeof e === 'object' && !Array.isArray(e)) {
        assert.throws(() => anketa.parse(c.expr), (err) => {
          assert.ok(err instanceof anketa.ExprError);
          assert.strictEqual(err.message, e.error);
          assert.strictEqual(err.col, e.col);
          return true;
        });
        return;
      }
      const x = anketa.parse(c.expr);
      assert.deepStrictEqual(anketa.evaluate(x, answersOf(c)), e);
      if (c.refs) assert.deepStrictEqual(anketa.refs(x), c.refs);
    });
  }
});

function render(expect) {
  if (expect !== null && typeof expect === 'object' && !Array.isArray(expect)) {
    return `error at column ${expect.col}: ${expect.error}`;
  }
  return JSON.stringify(expect);
}

/* Lines "EXPR → RESULT  # note" of the ```expr blocks of the documentation. */
function docExamples() {
  const text = fs.readFileSync(path.join(ROOT, 'docs/expressions.md'), 'utf8');
  const examples = [];
  const re = /```expr\n([\s\S]*?)```/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    for (const line of m[1].split('\n')) {
      if (!line.trim()) continue;
      const arrow = line.indexOf(' → ');
      assert.ok(arrow > 0, `no " → " in the example line: ${line}`);
      const rest = line.slice(arrow + 3);
      const hash = rest.indexOf('  # ');
      examples.push({
        expr: line.slice(0, arrow).trim(),
        result: (hash >= 0 ? rest.slice(0, hash) : rest).trim()
      });
    }
  }
  return examples;
}

test('every example of docs/expressions.md is a doc vector with the result shown', () => {
  const docs = vectors.cases.filter((c) => c.doc);
  const examples = docExamples();
  assert.ok(examples.length >= 20);
  for (const ex of examples) {
    const same = docs.filter((c) => c.expr === ex.expr);
    assert.ok(same.length > 0, `not a doc vector: ${ex.expr}`);
    assert.ok(same.some((c) => render(c.expect) === ex.result),
      `${ex.expr}: the documentation shows ${ex.result}, the vectors say ` +
      same.map((c) => render(c.expect)).join(' or '));
  }
  for (const c of docs) {
    assert.ok(examples.some((ex) => ex.expr === c.expr && ex.result === render(c.expect)),
      `doc vector not in the documentation: ${c.expr} → ${render(c.expect)}`);
  }
});

function assertSyntaxError(src, message, col) {
  assert.throws(() => anketa.parse(src), (err) => {
    assert.strictEqual(err.message, message);
    assert.strictEqual(err.col, col);
    return true;
  });
}

test('length limit in bytes', () => {
  let src = '1' + '+1'.repeat(2047) + ' ';
  assert.strictEqual(src.length, 4096);
  assert.strictEqual(anketa.evaluate(anketa.parse(src), {}), 2048);
  assertSyntaxError(src + ' ', 'expression too long (more than 4096 bytes)', 1);

  const letters = (4096 - 10) / 2;
  src = "length('" + 'я'.repeat(letters) + "')";
  assert.strictEqual(Buffer.byteLength(src), 4096);
  assert.strictEqual(anketa.evaluate(anketa.parse(src), {}), letters);
  src = "length('" + 'я'.repeat(letters + 1) + "')";
  assertSyntaxError(src, 'expression too long (more than 4096 bytes)', 1);
});

test('error columns count characters', () => {
  assertSyntaxError("'Ёж' +\n  (1 2", 'expected ")" to close "(" at column 10', 13);
  assertSyntaxError("'😀' 1", 'expected an operator, got "1"', 5);
});

test('refs', () => {
  const x = anketa.parse('c + b * count(a) + if(b, c, d) + e in [f, count(g)]');
  assert.deepStrictEqual(anketa.refs(x), ['c', 'b', 'a', 'd', 'e', 'f', 'g']);
  anketa.refs(x).push('z');
  assert.strictEqual(anketa.refs(x).length, 7);
});

test('truthy', () => {
  assert.strictEqual(anketa.truthy(true), true);
  for (const v of [false, 1, 'true', null, ['a']]) assert.strictEqual(anketa.truthy(v), false);
});

test('number format', () => {
  const cases = [
    [0.1 + 0.2, '0.3'], [-0, '0'], [-1e-7, '-1e-7'], [1.5e300, '1.5e+300'],
    [123456789012345680000, '123456789012346000000'], [-9007199254740992, '-9007199254740992'],
    [5e-324, '5e-324'], [1.7976931348623157e308, '1.79769313486232e+308']
  ];
  for (const [v, s] of cases) assert.strictEqual(anketa.formatNumber(v), s);
  assert.strictEqual(anketa.formatValue(true), 'true');
  assert.strictEqual(anketa.formatValue('Ёж'), 'Ёж');
  assert.strictEqual(anketa.formatValue(null), '');
  assert.strictEqual(anketa.formatValue(['a']), '');
});

test('parseNumber', () => {
  assert.strictEqual(anketa.parseNumber(' 4,5\n'), 4.5);
  assert.ok(Object.is(anketa.parseNumber('-0'), 0));
  for (const s of ['1e3', '', '- 1', '1,2,3', '\u00a01', '１']) {
    assert.strictEqual(anketa.parseNumber(s), null, s);
  }
  assert.strictEqual(anketa.parseNumber('9'.repeat(400)), null);
});

test('strings compare by code point', () => {
  assert.strictEqual(anketa.compareStrings('\uff01', '\u{1f600}'), -1);
  assert.strictEqual(anketa.compareStrings('\u{1f600}', '\uff01'), 1);
  assert.strictEqual(anketa.compareStrings('ab', 'ab'), 0);
  assert.strictEqual(anketa.compareStrings('ab', 'abc'), -1);
  assert.strictEqual(anketa.compareStrings('ё', 'я'), 1);
});

test('answers a lookup hands over are tidied up', () => {
  const odd = { nan: NaN, inf: Infinity, negzero: -0, undef: undefined, obj: { a: 1 }, nums: [1, 2] };
  const look = (id) => odd[id];
  const ev = (src) => anketa.evaluate(anketa.parse(src), look);
  for (const id of ['nan', 'inf', 'undef', 'obj', 'missing']) assert.strictEqual(ev(id), null, id);
  assert.ok(Object.is(ev('negzero'), 0));
  assert.strictEqual(ev("'1' in nums"), true);
});

test('short-circuits do not ask for answers they do not need', () => {
  const cases = [
    ['false and a', 0], ['true or a', 0], ['if(true, 1, a)', 0], ['1 in [1, a]', 0],
    ['a + b + c', 1], ['min(a, b)', 1], ['a or b or c', 3], ['if(a, b, c) = null', 2]
  ];
  for (const [src, want] of cases) {
    let calls = 0;
    anketa.evaluate(anketa.parse(src), () => {
      calls++;
      return null;
    });
    assert.strictEqual(calls, want, src);
  }
});

test('readAnswers', () => {
  const inputs = [
    { name: 'q.a', type: 'radio', value: 'x', checked: false },
    { name: 'q.a', type: 'radio', value: 'y', checked: true },
    { name: 'q.h', type: 'radio', value: 'x', checked: false },
    { name: 'q.b', type: 'checkbox', value: '1', checked: true },
    { name: 'q.b', type: 'checkbox', value: '2', checked: false },
    { name: 'q.b', type: 'checkbox', value: '3', checked: true },
    { name: 'q.c', type: 'checkbox', value: '1', checked: false },
    { name: 'q.d', type: 'text', value: '' },
    { name: 'q.t', type: 'textarea', value: 'Ёж' },
    { name: 'q.e', type: 'number', value: '42' },
    { name: 'q.f', type: 'number', value: '4,5' },
    { name: 'q.g', type: 'number', value: 'abc' },
    { name: 'q.yn', type: 'radio', value: 'yes', checked: true },
    { name: 'q.yn2', type: 'radio', value: 'yes', checked: false },
    { name: 'q.yn2', type: 'radio', value: 'no', checked: true },
    { name: 'q.sc', type: 'radio', value: '7', checked: true },
    { name: 'q.num', type: 'text', value: ' 12 ' },
    { name: 'q.txt', type: 'text', value: '12' },
    { name: 'q.sel', type: 'select-one', value: 'often' },
    { name: 'csrf', type: 'hidden', value: 'token' },
    { name: 'q.Bad', type: 'text', value: 'x' },
    { name: 'q.', type: 'text', value: 'x' }
  ];
  const types = { yn: 'yesno', yn2: 'yesno', sc: 'scale', num: 'number', txt: 'text' };
  assert.deepStrictEqual(anketa.readAnswers(inputs, types), {
    a: 'y', h: null, b: ['1', '3'], c: null, d: null, t: 'Ёж', e: 42, f: 4.5, g: null,
    yn: true, yn2: false, sc: 7, num: 12, txt: '12', sel: 'often'
  });
});

/* Just enough of the DOM for bind(): attributes, a tree, the selectors it uses, events. */
class FakeElement {
  constructor(tag, attrs, props, children) {
    this.tagName = tag.toUpperCase();
    this.attrs = Object.assign({}, attrs);
    Object.assign(this, { disabled: false, value: '', checked: false, type: '', name: '' }, props);
    this.children = children || [];
    this.handlers = {};
  }

  get id() {
    return this.getAttribute('id') || '';
  }

  getAttribute(n) {
    return Object.prototype.hasOwnProperty.call(this.attrs, n) ? this.attrs[n] : null;
  }

  setAttribute(n, v) {
    this.attrs[n] = String(v);
  }

  removeAttribute(n) {
    delete this.attrs[n];
  }

  hasAttribute(n) {
    return Object.prototype.hasOwnProperty.call(this.attrs, n);
  }

  matches(selector) {
    return selector.split(',').map((s) => s.trim()).some((s) => {
      const attr = /^\[([a-z-]+)\]$/.exec(s);
      return attr ? this.hasAttribute(attr[1]) : this.tagName === s.toUpperCase();
    });
  }

  querySelectorAll(selector) {
    const found = [];
    const walk = (el) => {
      for (const kid of el.children) {
        if (kid.matches(selector)) found.push(kid);
        walk(kid);
      }
    };
    walk(this);
    return found;
  }

  addEventListener(type, fn) {
    (this.handlers[type] = this.handlers[type] || []).push(fn);
  }

  fire(type) {
    for (const fn of this.handlers[type] || []) fn({ type });
  }
}

function input(name, type, value, extra) {
  return new FakeElement('input', {}, Object.assign({ name, type, value }, extra));
}

function question(id, qtype, showIf, fields) {
  const attrs = { id: 'q-' + id, class: 'question', 'data-type': qtype };
  if (showIf !== null) attrs['data-show-if'] = showIf;
  return new FakeElement('div', attrs, {}, fields);
}

test('bind shows and hides questions live', () => {
  const yes = input('q.met_before', 'radio', 'yes');
  const no = input('q.met_before', 'radio', 'no');
  const where = input('q.met_where', 'text', 'в школе');
  const detail = input('q.detail', 'text', '');
  const serverDisabled = input('q.detail', 'text', '', { disabled: true });
  const sport = input('q.topics', 'checkbox', 'sport');
  const other = input('q.topics', 'checkbox', 'other');
  const score = [1, 2, 3, 4, 5].map((n) => input('q.score', 'radio', String(n)));
  const q = {
    met_before: question('met_before', 'yesno', null, [yes, no]),
    met_where: question('met_where', 'text', 'met_before', [where]),
    detail: question('detail', 'text', 'answered(met_where)', [detail, serverDisabled]),
    topics: question('topics', 'multiple', null, [sport, other]),
    other: question('other', 'text', "selected(topics, 'other')",
      [new FakeElement('textarea', {}, { name: 'q.other', type: 'textarea' })]),
    score: question('score', 'scale', null, score),
    why_low: question('why_low', 'text', 'score <= 2', [input('q.why_low', 'text', '')]),
    broken: question('broken', 'text', 'score <', [input('q.broken', 'text', '')])
  };
  const form = new FakeElement('form', {}, {}, Object.values(q));
  const shown = () => Object.keys(q).filter((id) => !q[id].hasAttribute('hidden'));

  const update = anketa.bind(form);
  assert.strictEqual(typeof update, 'function');
  /* met_where is hidden, so detail sees it unanswered despite its text. */
  assert.deepStrictEqual(shown(), ['met_before', 'topics', 'score', 'broken']);
  assert.strictEqual(where.disabled, true);
  assert.strictEqual(detail.disabled, true);

  yes.checked = true;
  form.fire('change');
  assert.deepStrictEqual(shown(), ['met_before', 'met_where', 'detail', 'topics', 'score', 'broken']);
  assert.strictEqual(where.disabled, false);
  assert.strictEqual(detail.disabled, false);
  assert.strictEqual(serverDisabled.disabled, true, 'a field the server disabled stays disabled');

  other.checked = true;
  score[1].checked = true;
  form.fire('input');
  assert.deepStrictEqual(shown(), Object.keys(q));

  yes.checked = false;
  no.checked = true;
  score[1].checked = false;
  score[2].checked = true;
  form.fire('change');
  assert.deepStrictEqual(shown(), ['met_before', 'topics', 'other', 'score', 'broken']);
  assert.strictEqual(where.disabled, true);
  assert.strictEqual(q.why_low.children[0].disabled, true);
  assert.strictEqual(q.broken.children[0].disabled, false);
});
