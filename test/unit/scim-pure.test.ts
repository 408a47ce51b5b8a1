import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../src/producers/scim/filter.ts';
import { applyPatch } from '../../src/producers/scim/patch.ts';
import { ScimError } from '../../src/producers/scim/scim-error.ts';
import { isActive, normaliseAttributes, rosterFieldsOf } from '../../src/producers/scim/user-resource.ts';
import { ENTERPRISE, patchOf, USER } from '../helpers/scim.ts';

/** The pure parts of SCIM inbound: the mapping, `active`, filters and PATCH normalisation. */
describe('scim: mapping SCIM users to roster fields', () => {
  const base = {
    userName: 'ada@example.test',
    name: { givenName: 'Ada', familyName: 'Lovelace' },
  };

  it('externalId wins over employeeNumber for system_id; employeeNumber when there is no externalId', () => {
    const both = { ...base, externalId: 'X1', [ENTERPRISE]: { employeeNumber: 'E1' } };
    expect(rosterFieldsOf(both).system_id).toBe('X1');
    expect(rosterFieldsOf({ ...base, [ENTERPRISE]: { employeeNumber: 'E1' } }).system_id).toBe('E1');
    expect(rosterFieldsOf(base).system_id).toBeUndefined();
  });

  it('email: the work email, else an email-like userName, else the primary email', () => {
    const work = {
      ...base,
      emails: [
        { type: 'home', value: 'h@x.test' },
        { type: 'work', value: 'w@x.test' },
      ],
    };
    expect(rosterFieldsOf(work).email).toBe('w@x.test');
    expect(rosterFieldsOf(base).email).toBe('ada@example.test');
    const upn = {
      ...base,
      userName: 'ada',
      emails: [{ value: 'a@x.test' }, { value: 'p@x.test', primary: true }],
    };
    expect(rosterFieldsOf(upn).email).toBe('p@x.test');
  });

  it('names, mobile (mobile before work), title and department; attribute names in any case', () => {
    const user = {
      USERNAME: 'ada@example.test',
      Name: { GivenName: 'Ada', familyname: 'Lovelace' },
      phoneNumbers: [
        { type: 'work', value: '+441234' },
        { type: 'mobile', value: '+447700900123' },
      ],
      title: 'Analyst',
      [ENTERPRISE.toLowerCase()]: { Department: 'Maths' },
    };
    expect(rosterFieldsOf(user)).toEqual({
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: 'ada@example.test',
      mobile: '+447700900123',
      job_title: 'Analyst',
      department: 'Maths',
    });
  });

  it("active: booleans, Entra's strings in any case, absent means active", () => {
    expect(isActive({ active: false })).toBe(false);
    expect(isActive({ active: 'False' })).toBe(false);
    expect(isActive({ active: 'false' })).toBe(false);
    expect(isActive({ active: 'True' })).toBe(true);
    expect(isActive({})).toBe(true);
  });

  it('stores no server-set attributes, active as a boolean, schemas naming the extension in use', () => {
    const stored = normaliseAttributes({ ...base, id: 'theirs', meta: { x: 1 }, Active: 'False' });
    expect(stored).not.toHaveProperty('id');
    expect(stored).not.toHaveProperty('meta');
    expect(stored.active).toBe(false);
    expect(stored.schemas).toEqual([USER]);
    expect(normaliseAttributes({ ...base, [ENTERPRISE]: {} }).schemas).toEqual([USER, ENTERPRISE]);
  });
});

describe('scim: filters', () => {
  const user = {
    id: 'abc',
    userName: 'Ada@Example.test',
    externalId: 'X1',
    emails: [{ type: 'work', value: 'A@x.test' }],
  };

  it('compares case-insensitively except id and externalId', () => {
    expect(compileFilter('userName eq "ada@example.TEST"')(user)).toBe(true);
    expect(compileFilter('emails[type eq "WORK"].value eq "a@X.test"')(user)).toBe(true);
    expect(compileFilter('externalId eq "X1"')(user)).toBe(true);
    expect(compileFilter('externalId eq "x1"')(user)).toBe(false);
    expect(compileFilter('id eq "ABC"')(user)).toBe(false);
    expect(compileFilter('userName sw "ADA" and not (externalId eq "X2")')(user)).toBe(true);
  });

  it('a filter that does not parse is a 400 invalidFilter', () => {
    const attempt = () => compileFilter('userName eq');
    expect(attempt).toThrow(ScimError);
    try {
      attempt();
    } catch (err) {
      expect((err as ScimError).body()).toMatchObject({ status: '400', scimType: 'invalidFilter' });
    }
  });
});

describe('scim: PATCH normalisation', () => {
  const user = normaliseAttributes({
    userName: 'ada@example.test',
    name: { givenName: 'Ada', familyName: 'Lovelace' },
    active: true,
  });

  it('splits a path-less value object by attribute path and by extension URN', () => {
    const patched = applyPatch(
      user,
      patchOf({
        op: 'Replace',
        value: { 'name.givenName': 'Augusta', title: 'Countess', [ENTERPRISE]: { employeeNumber: '7' } },
      }),
    );
    expect(patched.name).toEqual({ givenName: 'Augusta', familyName: 'Lovelace' });
    expect(patched.title).toBe('Countess');
    expect(patched[ENTERPRISE]).toEqual({ employeeNumber: '7' });
    expect(patched.schemas).toEqual([USER, ENTERPRISE]);
    // The input is never changed in place.
    expect(user.name).toEqual({ givenName: 'Ada', familyName: 'Lovelace' });
  });

  it('"False" becomes false after any form of replace', () => {
    expect(applyPatch(user, patchOf({ op: 'replace', path: 'active', value: 'False' })).active).toBe(false);
    expect(applyPatch(user, patchOf({ op: 'Replace', value: { active: 'False' } })).active).toBe(false);
  });

  it('refuses what the RFC refuses, with the scimType it names', () => {
    const code = (body: unknown) => {
      try {
        applyPatch(user, body);
        return 'applied';
      } catch (err) {
        return (err as ScimError).scimType;
      }
    };
    expect(code(patchOf({ op: 'remove' }))).toBe('noTarget');
    expect(code(patchOf({ op: 'copy', path: 'title', value: 'x' }))).toBe('invalidSyntax');
    expect(code({ schemas: [USER], Operations: [] })).toBe('invalidSyntax');
    expect(code(patchOf())).toBe('invalidSyntax');
    expect(code(patchOf({ op: 'add', path: 'meta.created', value: 'x' }))).toBe('mutability');
    expect(code(patchOf({ op: 'replace', path: 'title' }))).toBe('invalidValue');
    // Lenient where IdPs rely on it (docs/scim.md): a replace whose value filter matches nothing adds the entry.
    const added = applyPatch(
      user,
      patchOf({ op: 'replace', path: 'emails[type eq "work"].value', value: 'w@y.test' }),
    );
    expect(added.emails).toEqual([{ type: 'work', value: 'w@y.test' }]);
  });
});
