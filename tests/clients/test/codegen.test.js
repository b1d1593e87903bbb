// GraphQL Code Generator over schema.graphql with the scalar mapping the
// README documents (codegen.ts): the run succeeds, no custom scalar comes
// out as `any` or `unknown`, the output typechecks with the operations in
// operations/, and a scalar the mapping does not name fails the run.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { generate, loadCodegenConfig } from '@graphql-codegen/cli';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);

const MAPPING = {
  Long: 'number',
  Decimal: 'string',
  DateTime: 'string',
  JSON: 'JsonValue',
};

test('the CLI run over schema.graphql types every custom scalar as documented, and the output typechecks', async () => {
  await run(bin('graphql-codegen'), ['--config', 'codegen.ts'], { cwd: root });
  const output = await readFile(join(root, 'generated', 'graphql.ts'), 'utf8');

  const block = output.match(/export type Scalars = \{\n([\s\S]*?)\n\};/);
  assert.ok(block, 'the output has a Scalars type');
  const types = {};
  for (const [, name, input, out] of block[1].matchAll(/^ {2}(\w+): \{ input: ([^;]+); output: ([^;]+); \}$/gm)) {
    types[name] = { input, output: out };
  }
  for (const [scalar, type] of Object.entries(MAPPING)) {
    assert.deepEqual(types[scalar], { input: type, output: type }, `${scalar} is ${type} both ways`);
  }
  for (const [scalar, { input, output }] of Object.entries(types)) {
    assert.doesNotMatch(`${input} ${output}`, /\b(any|unknown)\b/, `${scalar} is neither any nor unknown`);
  }
  assert.match(output, /export type JsonValue = string \| number \| boolean \| null \| JsonValue\[\] \| \{ \[key: string\]: JsonValue \};/);
  // Operation types inline the mapping.
  assert.match(output, /export type AccountQuery = .*balance: string.*version: number.*openedAt: string/);

  // types/scalars.check.ts fails to compile if any scalar were `any`.
  await run(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: root }).catch((err) => {
    assert.fail(`tsc --noEmit over the generated types failed:\n${err.stdout}${err.stderr}`);
  });
});

test('strictScalars: a scalar the mapping does not name fails the run', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'chronicle-codegen-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const schema = await readFile(join(root, '..', '..', 'schema.graphql'), 'utf8');
  const extended = join(dir, 'schema.graphql');
  await writeFile(extended, `${schema}\nscalar Unmapped\n`);

  const { config } = await loadCodegenConfig({ configFilePath: join(root, 'codegen.ts') });
  await assert.rejects(
    generate({ ...config, schema: extended, cwd: root, silent: true }, false),
    (err) => {
      assert.match(String(err.message ?? err) + JSON.stringify(err.errors ?? ''), /Unmapped/);
      return true;
    },
  );
  // The same config over the real schema generates.
  const files = await generate({ ...config, cwd: root, silent: true }, false);
  assert.equal(files.length, 1);
});
