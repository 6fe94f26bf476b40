/**
 * A beacon's read-ahead over its connector's own transactions (`source()`, a replayed dataset):
 * at most `ahead` transactions read and not yet taken, so memory stays bounded whatever the
 * source's size.
 */
import type { SourcedTx } from '../connectors/contract.js';

export class SourceReader {
  private buf: (SourcedTx | undefined)[] = [];
  private head = 0;
  private ended = false;
  private pulling = false;

  constructor(
    private readonly source: AsyncIterator<SourcedTx>,
    private readonly ahead: number,
    /** The source threw: it is over, and the beacon says why. */
    private readonly onError: (code: string, message: string) => void,
  ) {}

  /** The next transaction read and not yet taken. */
  peek(): SourcedTx | undefined {
    return this.buf[this.head];
  }

  /** Takes the transaction `peek` gave (its slot is released). */
  take(): SourcedTx {
    const s = this.buf[this.head]!;
    this.buf[this.head++] = undefined;
    return s;
  }

  /** Everything the source had was taken. */
  get exhausted(): boolean {
    return this.ended && this.head >= this.buf.length;
  }

  /** Reads ahead until `ahead` transactions wait (or the source ends). */
  async pull(): Promise<void> {
    if (this.head > 4096 && this.head * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
    if (this.pulling || this.ended) return;
    this.pulling = true;
    try {
      while (!this.ended && this.buf.length - this.head < this.ahead) {
        const r = await this.source.next();
        if (r.done) this.ended = true;
        else this.buf.push(r.value);
      }
    } catch (err) {
      this.ended = true;
      this.onError((err as { code?: string }).code ?? 'TPSLAB_E_CONNECTOR', `the connector's source failed: ${(err as Error).message}`);
    } finally {
      this.pulling = false;
    }
  }

  /** Stopped early (duration, abort): the source releases what it holds (the dataset's file). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    void this.source.return?.().catch(() => {});
  }
}
