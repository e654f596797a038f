// The coordinator's side of the client workers: fork, message, wait, stop.
import { type ChildProcess, fork } from 'node:child_process';
import type { FromWorker, ToWorker } from './worker-protocol.js';

type Kind = FromWorker['kind'];
type MessageOf<K extends Kind> = Extract<FromWorker, { kind: K }>;

interface Inbox {
  queued: Map<Kind, FromWorker[]>;
  waiting: Map<Kind, ((m: FromWorker) => void)[]>;
  latestProgress?: MessageOf<'progress'>;
}

export class WorkerPool {
  private readonly children: ChildProcess[] = [];
  private readonly inboxes: Inbox[] = [];
  private stopping = false;

  /** `onFailure` gets the first failure a worker reports, or an unexpected exit. */
  constructor(script: string, count: number, private readonly onFailure: (error: string) => void, execArgv: string[] = []) {
    for (let i = 0; i < count; i++) {
      // Workers write nothing to stdout (it carries the JSON summary); their stderr is ours.
      const child = fork(script, [], { stdio: ['ignore', 2, 2, 'ipc'], execArgv });
      const inbox: Inbox = { queued: new Map(), waiting: new Map() };
      child.on('message', (m: FromWorker) => this.deliver(inbox, m));
      child.on('exit', (code, signal) => {
        if (!this.stopping) this.onFailure(`client worker ${i} (pid ${child.pid}) exited (code ${code}, signal ${signal})`);
      });
      this.children.push(child);
      this.inboxes.push(inbox);
    }
  }

  get size(): number {
    return this.children.length;
  }

  send(index: number, message: ToWorker): void {
    this.children[index]!.send(message);
  }

  broadcast(message: ToWorker): void {
    for (let i = 0; i < this.children.length; i++) this.send(i, message);
  }

  /** The next message of `kind` from every worker (queued ones count). */
  all<K extends Kind>(kind: K): Promise<MessageOf<K>[]> {
    return Promise.all(this.inboxes.map((inbox) => this.next(inbox, kind)));
  }

  /** Sum of the latest progress reports. */
  progress(): { streams: number; synced: number; converged: number } {
    let streams = 0;
    let synced = 0;
    let converged = 0;
    for (const inbox of this.inboxes) {
      streams += inbox.latestProgress?.streams ?? 0;
      synced += inbox.latestProgress?.synced ?? 0;
      converged += inbox.latestProgress?.converged ?? 0;
    }
    return { streams, synced, converged };
  }

  /** Asks every worker to close its streams and exit; kills what is left after graceMs. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopping = true;
    const exits = this.children.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (child.connected) child.send({ kind: 'stop' } satisfies ToWorker);
      else child.kill('SIGKILL');
    }));
    await Promise.all(exits);
  }

  /** Synchronous last resort for exit handlers. */
  kill(): void {
    this.stopping = true;
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  private deliver(inbox: Inbox, message: FromWorker): void {
    if (message.kind === 'failed') {
      this.onFailure(message.error);
      return;
    }
    if (message.kind === 'progress') {
      inbox.latestProgress = message;
      return;
    }
    const waiter = inbox.waiting.get(message.kind)?.shift();
    if (waiter) waiter(message);
    else {
      const queue = inbox.queued.get(message.kind) ?? [];
      queue.push(message);
      inbox.queued.set(message.kind, queue);
    }
  }

  private next<K extends Kind>(inbox: Inbox, kind: K): Promise<MessageOf<K>> {
    const queued = inbox.queued.get(kind)?.shift();
    if (queued) return Promise.resolve(queued as MessageOf<K>);
    return new Promise((resolve) => {
      const list = inbox.waiting.get(kind) ?? [];
      list.push(resolve as (m: FromWorker) => void);
      inbox.waiting.set(kind, list);
    });
  }
}
