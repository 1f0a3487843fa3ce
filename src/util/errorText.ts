/**
 * A caught value as the text a user may read: an Error's own message, never String(e)'s
 * "Error: …" prefix (nor its class name). The message of a link's failure is already a sentence.
 */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
