import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../util/errors.ts';
import { renderList } from './list.ts';
import { IMAGE_CASES, IMAGE_DEFAULT_TABLE, IMAGE_HEADERS, IMAGE_ROWS } from './list.golden.ts';

const opts = { defaultTable: IMAGE_DEFAULT_TABLE, headers: IMAGE_HEADERS, typeName: '*formatter.imageContext' };

test('renders every recorded `docker images --format` byte for byte', () => {
  assert.ok(IMAGE_CASES.length >= 25);
  for (const c of IMAGE_CASES) {
    const rows = c.empty === true ? [] : IMAGE_ROWS;
    if (c.error !== undefined) {
      assert.throws(
        () => renderList(rows, c.format, opts),
        (err: unknown) => err instanceof InvalidArgumentError && err.message === c.error,
        c.format,
      );
    } else {
      assert.equal(renderList(rows, c.format, opts), c.out, JSON.stringify(c.format));
    }
  }
});

test('table columns are measured in terminal cells (docker: East Asian wide characters count two)', () => {
  // docker images --format 'table {{if eq .Tag "1"}}日本語テキスト{{end}}{{.Tag}}\t{{.ID}}\t{{if eq .Tag "latest"}}éü{{end}}|'
  const rows = [
    { Tag: '1', ID: 'b6ea49ffeebd' },
    { Tag: 'latest', ID: 'c5ea509bcbc0' },
    { Tag: '2024.01-rc.1', ID: '379250812a88' },
  ];
  const out = renderList(
    rows,
    'table {{if eq .Tag "1"}}日本語テキスト{{end}}{{.Tag}}\\t{{.ID}}\\t{{if eq .Tag "latest"}}éü{{end}}|',
    opts,
  );
  assert.equal(
    out,
    'TAG               IMAGE ID       |\n' +
      '日本語テキスト1   b6ea49ffeebd   |\n' +
      'latest            c5ea509bcbc0   éü|\n' +
      '2024.01-rc.1      379250812a88   |\n',
  );
});

test('json rows have sorted keys and HTML-escaped strings, as docker marshals its row contexts', () => {
  const out = renderList([{ Tag: '<none>', ID: 'a&b' }], 'json', opts);
  assert.equal(out, '{"ID":"a\\u0026b","Tag":"\\u003cnone\\u003e"}\n');
  assert.equal(
    renderList([{ Tag: '<none>', ID: 'x' }], '{{json .}}|{{json .Tag}}', opts),
    '{"ID":"x","Tag":"\\u003cnone\\u003e"}|"<none>"\n',
  );
});

test('rows may be class instances with getters', () => {
  class Row {
    readonly ID: string;
    constructor(id: string) {
      this.ID = id;
    }
    get Short(): string {
      return this.ID.slice(0, 3);
    }
  }
  const out = renderList([new Row('abcdef'), new Row('123456')], 'table {{.Short}}\\t{{.ID}}', {
    defaultTable: '',
    headers: { Short: 'SHORT', ID: 'ID' },
  });
  assert.equal(out, 'SHORT     ID\nabc       abcdef\n123       123456\n');
  assert.equal(renderList([new Row('abcdef')], 'json', opts), '{"ID":"abcdef","Short":"abc"}\n');
});

test('an unknown field fails the whole list, and the default type name is used', () => {
  assert.throws(
    () => renderList([{ A: 1 }], '{{.B}}', { defaultTable: '', headers: {} }),
    (err: unknown) =>
      err instanceof InvalidArgumentError &&
      err.message ===
        'template parsing error: template: :1:2: executing "" at <.B>: can\'t evaluate field B in type row',
  );
});
