// A Logger that keeps what it was told, so a test can assert what was logged and how often.
import type { LogFields, Logger, LogLevel } from '../../xds-server/src/log.js';

export interface LogEntry {
  level: LogLevel;
  msg: string;
  fields?: LogFields;
}

export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];

  debug(msg: string, fields?: LogFields): void {
    this.record('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.record('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.record('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.record('error', msg, fields);
  }

  at(level: LogLevel): LogEntry[] {
    return this.entries.filter((e) => e.level === level);
  }

  private record(level: LogLevel, msg: string, fields?: LogFields): void {
    // Bounded: a runaway loop in the code under test must not exhaust the test's memory.
    if (this.entries.length < 10_000) this.entries.push({ level, msg, fields });
  }
}
