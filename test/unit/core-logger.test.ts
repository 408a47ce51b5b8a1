import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, scrubSecrets } from '../../src/lib/core/logger.ts';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('logger redaction', () => {
  it('redacts secret fields, registered secret values and invitation-code shapes', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', secrets: ['tok-abcdef-123'], destination: out.stream });
    logger.info(
      { headers: { authorization: 'Bearer xyz' }, invitation_code: 'ABCD-EFGH-IJKL-MNOP' },
      'hello',
    );
    logger.info(`code in a message ABCD-EFGH-IJKL-MNOP and token tok-abcdef-123`);
    logger.error({ err: new Error('failed with tok-abcdef-123') }, 'boom');
    const text = out.text();
    expect(text).not.toContain('ABCD-EFGH-IJKL-MNOP');
    expect(text).not.toContain('tok-abcdef-123');
    expect(text).not.toContain('Bearer xyz');
    expect(text).toContain('[REDACTED]');
  });

  it('scrubSecrets leaves other text alone', () => {
    expect(scrubSecrets('run 42 finished', ['secret-1'])).toBe('run 42 finished');
  });
});
