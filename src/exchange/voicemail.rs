//! The voicemail recorder's place in the exchange: a `Recorder` on the caller's port,
//! fed from `on_audio`, reporting silence to the call, and the finished recording held
//! in the call's slot until it leaves with the CDR (`Output::Voicemail`).

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::{Exchange, Happening, PortIdx};
use crate::call::{CallId, Event, RecordEnd};
use crate::media::Frame;
use crate::media::recorder::{Recorder, Recording};

/// A finished voicemail recording with what the store needs to index it.
#[derive(Debug, Clone, PartialEq)]
pub struct VoicemailOut {
    /// Call id.
    pub call: CallId,
    /// Routing number id.
    pub routing_id: String,
    /// Routing number name.
    pub routing_number: String,
    /// Caller ID.
    pub caller_id: Option<String>,
    /// When recording started.
    pub started_at: Timestamp,
    /// The audio (trimmed), whether it has speech, and why it ended.
    pub recording: Recording,
}

/// A recorder running on a port.
pub(super) struct PortRecorder {
    rec: Recorder,
    started_at: Timestamp,
    silence: Duration,
    silence_told: bool,
}

impl Exchange {
    /// `Action::StartRecording`.
    pub(super) fn start_recording(
        &mut self,
        now: Instant,
        id: CallId,
        port: PortIdx,
        max: Duration,
        silence: Duration,
    ) {
        let started_at = self.wall(now);
        self.ports[port].recorder = Some(PortRecorder {
            rec: Recorder::new(max),
            started_at,
            silence,
            silence_told: false,
        });
        self.note(Some(id), Some(port), Happening::RecordingVoicemail);
    }

    /// A caller's frame: recorded, and silence reported once it lasts long enough.
    pub(super) fn record_frame(&mut self, port: PortIdx, call: CallId, frame: &Frame) {
        if let Some(r) = self.ports[port].recorder.as_mut() {
            r.rec.push(frame);
            if !r.silence_told && r.rec.trailing_silence() >= r.silence {
                r.silence_told = true;
                self.pending.push_back((call, Event::RecordingSilence));
            }
        }
    }

    /// `Action::StopRecording`: the recording is kept in the slot for the CDR.
    pub(super) fn stop_recording(&mut self, si: usize, why: RecordEnd) {
        let id = self.slots[si].call.id();
        let port = self.slots[si].caller.port;
        let Some(r) = self.ports[port].recorder.take() else {
            return;
        };
        let recording = r.rec.finish(why);
        self.note(
            Some(id),
            Some(port),
            Happening::VoicemailRecorded {
                seconds: recording.seconds(),
                speech: recording.speech,
                ended_by: why,
            },
        );
        let call = &self.slots[si].call;
        self.slots[si].voicemail = Some(VoicemailOut {
            call: id,
            routing_id: call.routing_id().to_string(),
            routing_number: call.routing_name().to_string(),
            caller_id: call.caller_id().map(str::to_string),
            started_at: r.started_at,
            recording,
        });
    }
}
