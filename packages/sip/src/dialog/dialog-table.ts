import type { SipRequest } from '../message/index.js';
import { Dialog, dialogId } from './dialog.js';

/** The dialogs an element takes part in, found by Call-ID and local tag (RFC 3261 §12.2.2). */
export class DialogTable {
  private readonly dialogs = new Map<string, Dialog>();

  add(dialog: Dialog): void {
    this.dialogs.set(dialog.id, dialog);
  }

  remove(dialog: Dialog): void {
    if (this.dialogs.get(dialog.id) === dialog) this.dialogs.delete(dialog.id);
  }

  /** The dialog an in-dialog request belongs to: its Call-ID and To tag (ours). */
  match(request: SipRequest): Dialog | undefined {
    const tag = request.to.tag;
    return tag === undefined ? undefined : this.dialogs.get(dialogId(request.callId, tag));
  }

  get(callId: string, localTag: string): Dialog | undefined {
    return this.dialogs.get(dialogId(callId, localTag));
  }

  get size(): number {
    return this.dialogs.size;
  }

  values(): IterableIterator<Dialog> {
    return this.dialogs.values();
  }
}
