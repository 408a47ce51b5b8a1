/**
 * Outside data (roster values, DoorFlow error messages) on its way to an operator's terminal:
 * control characters become visible `\xHH` escapes, so a crafted value cannot move the cursor,
 * rewrite a line or set the window title.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

export function terminalSafe(text: string): string {
  return text.replace(CONTROL, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
