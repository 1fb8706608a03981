/**
 * Splits a byte stream into lines, each kept as its exact bytes including the `\n`, so a proxy
 * can forward what it received unchanged. A line split across chunks is joined; a final line
 * without `\n` comes out at `end()`.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingLength = 0;

  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    let start = 0;
    let newline = chunk.indexOf(0x0a, start);
    while (newline !== -1) {
      const piece = chunk.subarray(start, newline + 1);
      if (this.pendingLength > 0) {
        this.pending.push(piece);
        const line = Buffer.concat(this.pending, this.pendingLength + piece.length);
        this.pending = [];
        this.pendingLength = 0;
        onLine(line);
      } else {
        onLine(piece);
      }
      start = newline + 1;
      newline = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pending.push(rest);
      this.pendingLength += rest.length;
    }
  }

  end(onLine: (line: Buffer) => void): void {
    if (this.pendingLength === 0) return;
    const line = Buffer.concat(this.pending, this.pendingLength);
    this.pending = [];
    this.pendingLength = 0;
    onLine(line);
  }
}
