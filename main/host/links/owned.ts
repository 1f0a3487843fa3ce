/**
 * A link that owns OS resources (mappings, fds, sockets, a child process). `release` frees them
 * all: when the link is closed, and at once if opening it fails part-way, so a failed open
 * leaks nothing.
 */
export async function ownedLink<L extends object>(release: () => void, open: () => Promise<L>): Promise<L & { close(): Promise<void> }> {
  try {
    return Object.assign(await open(), {
      close() {
        release();
        return Promise.resolve();
      },
    });
  } catch (e) {
    release();
    throw e;
  }
}
