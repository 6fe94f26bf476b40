import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getField, parseFieldPath, setField, showPath } from '../../src/experiments/field-path.js';

describe('field paths', () => {
  it('parses dotted fields with list indexes', () => {
    assert.deepEqual(parseFieldPath('load.stages[0].ratePerSec'), ['load', 'stages', 0, 'ratePerSec']);
    assert.deepEqual(parseFieldPath('beacons.count'), ['beacons', 'count']);
    assert.equal(showPath(['load', 'stages', 1, 'ratePerSec']), 'load.stages[1].ratePerSec');
  });

  it('refuses malformed paths', () => {
    for (const bad of ['', '.a', 'a..b', 'a[x]', '[0]', 'a.b c', 'a-b']) assert.equal(parseFieldPath(bad), undefined, bad);
  });

  it('sets a value in a copy, creating missing mappings, and leaves the input alone', () => {
    const input = { load: { stages: [{ kind: 'constant', ratePerSec: 10 }] } };
    const r = setField(input, ['load', 'stages', 0, 'ratePerSec'], 40);
    assert.ok('value' in r);
    assert.equal(getField(r.value, ['load', 'stages', 0, 'ratePerSec']), 40);
    assert.equal(input.load.stages[0]!.ratePerSec, 10);
    const r2 = setField({}, ['target', 'nodes'], 3);
    assert.deepEqual('value' in r2 && r2.value, { target: { nodes: 3 } });
  });

  it('says why a path cannot be set', () => {
    const r = setField({ load: { stages: [] } }, ['load', 'stages', 0, 'ratePerSec'], 1);
    assert.ok('problem' in r);
    assert.match(r.problem, /load\.stages has 0 item\(s\), so \[0\] does not exist/);
    const r2 = setField({ beacons: 3 }, ['beacons', 'count'], 1);
    assert.ok('problem' in r2 && /beacons is not a mapping/.test(r2.problem));
  });
});
