/**
 * What both CLI proxies show the middleware of their client-facing side: an MCP Transport
 * whose handlers the middleware wraps, that starts at once, and whose `close()` tells `onclose`
 * once however often it is called. Subclasses say how a message from the peer is observed
 * (`send`) and where the bytes go.
 */
export abstract class ProxySide {
  onmessage?: (message: unknown, extra?: unknown) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private closed = false;

  get isClosed(): boolean {
    return this.closed;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  abstract send(message: unknown): Promise<void>;

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.onclose?.();
    }
    return Promise.resolve();
  }
}
