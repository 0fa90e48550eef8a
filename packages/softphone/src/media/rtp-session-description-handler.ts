import {
  RtpAudioStream, SilenceSource, ToneSource, WavRecorder, WavSource, createAudioAnswer, createAudioOffer, negotiatedFromAnswer,
  type AudioFrameSource,
} from '@psi-lab/media';
import type { Logger } from 'pino';
import type { BodyAndContentType, SessionDescriptionHandler } from 'sip.js';
import type { CallMediaOptions } from './call-media.js';

const TELEPHONE_EVENT_PT = 101;

/**
 * sip.js's SessionDescriptionHandler for Node: plain RTP audio (PCMU, PCMA, telephone-event)
 * from @psi-lab/media in place of WebRTC. It offers or answers SDP, runs one RtpAudioStream per
 * call, plays a tone or a WAV file into it, records what it hears, and sends DTMF as RFC 4733.
 */
export class RtpSessionDescriptionHandler implements SessionDescriptionHandler {
  private stream: RtpAudioStream | undefined;
  private opening: Promise<RtpAudioStream> | undefined;
  private recorder: WavRecorder | undefined;
  /** Our offer, waiting for its answer. */
  private localOffer: string | undefined;
  /** Their offer, waiting for our answer. */
  private remoteOffer: string | undefined;
  /** Our last offer and the answer applied to it (a 200 may bring another answer than a 183 did). */
  private answeredOffer: string | undefined;
  private appliedAnswer: string | undefined;
  private resolveClosed!: () => void;
  /** Settles once the stream is closed and the recording written (or failed). */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
  private readonly sessionId = String(Math.floor(Math.random() * 1e9));
  private version = 1;
  private isClosed = false;

  constructor(private readonly localAddress: string, private readonly media: CallMediaOptions, private readonly logger?: Logger) {}

  hasDescription(contentType: string): boolean {
    return contentType.toLowerCase().split(';')[0].trim() === 'application/sdp';
  }

  /** Our side of offer/answer: the answer to a pending remote offer, else a new offer. */
  async getDescription(): Promise<BodyAndContentType> {
    const stream = await this.ensureStream();
    const common = { address: this.localAddress, port: stream.localPort, sessionId: this.sessionId, sessionVersion: this.version++ };
    if (this.remoteOffer) {
      const answer = createAudioAnswer(this.remoteOffer, { ...common, codecs: this.media.codecs, telephoneEvent: true });
      this.remoteOffer = undefined;
      if (!answer.accepted) throw new Error(`no audio in common with the offer: ${answer.reason}`);
      stream.configure(answer);
      return { body: answer.sdp, contentType: 'application/sdp' };
    }
    this.localOffer = createAudioOffer({ ...common, codecs: this.media.codecs, telephoneEvent: { payloadType: TELEPHONE_EVENT_PT } });
    return { body: this.localOffer, contentType: 'application/sdp' };
  }

  /** Their SDP: the answer to our offer (applied at once), or an offer we answer next. */
  async setDescription(sdp: string): Promise<void> {
    const stream = await this.ensureStream();
    if (this.localOffer) {
      const negotiated = negotiatedFromAnswer(this.localOffer, sdp);
      if (!negotiated.accepted) throw new Error(`the answer refused our audio: ${negotiated.reason}`);
      stream.configure(negotiated);
      this.answeredOffer = this.localOffer;
      this.appliedAnswer = sdp;
      this.localOffer = undefined;
      return;
    }
    this.remoteOffer = sdp;
  }

  /**
   * The final answer of an INVITE whose 183 carried one already: sip.js keeps the early one, but
   * when they differ (an announcement before the callee, another fork), the final one holds.
   */
  applyFinalAnswer(sdp: string): void {
    if (!this.answeredOffer || sdp === this.appliedAnswer || !this.stream) return;
    const negotiated = negotiatedFromAnswer(this.answeredOffer, sdp);
    if (!negotiated.accepted) return;
    this.stream.configure(negotiated);
    this.appliedAnswer = sdp;
  }

  sendDtmf(tones: string): boolean {
    if (!/^[0-9A-D#*]+$/i.test(tones)) return false;
    return this.stream?.sendDtmf(tones.toUpperCase()) ?? false;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const recorder = this.recorder;
    void (async () => {
      await this.opening?.catch(() => undefined);
      await this.stream?.close();
      await recorder?.close().catch((e: Error) => this.logger?.warn({ err: e.message, file: recorder.file }, 'recording not written'));
    })().finally(() => this.resolveClosed());
  }

  /** The running stream (for statistics), once media was negotiated. */
  get rtp(): RtpAudioStream | undefined {
    return this.stream;
  }

  private ensureStream(): Promise<RtpAudioStream> {
    this.opening ??= (async () => {
      if (this.media.record) this.recorder = new WavRecorder(this.media.record);
      const source = await openSource(this.media.play);
      const stream = await RtpAudioStream.open({
        address: this.localAddress, source, logger: this.logger,
        onAudio: this.recorder ? (frame) => this.recorder!.append(frame) : undefined,
        onDtmf: this.media.onDtmf,
      });
      if (this.isClosed) await stream.close();
      this.stream = stream;
      return stream;
    })();
    return this.opening;
  }
}

/** `tone:1000`, `silence`, or a WAV file's path (played once, then silence). */
export async function openSource(play: string | undefined): Promise<AudioFrameSource> {
  if (!play || play === 'silence') return new SilenceSource();
  const tone = /^tone:(\d+(?:\.\d+)?)$/i.exec(play);
  if (tone) {
    const frequency = Number(tone[1]);
    if (!(frequency > 0 && frequency < 4000)) throw new Error(`--play tone:${tone[1]}: the frequency must be between 0 and 4000 Hz (8 kHz audio)`);
    return new ToneSource({ frequency });
  }
  if (/^tone:/i.test(play)) throw new Error(`--play "${play}": write a tone as tone:HZ, e.g. tone:1000`);
  return WavSource.open(play, { atEnd: 'silence' });
}
